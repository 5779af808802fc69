// Turns one decoded event into a JSON line or a table row: each argument becomes
// a value once (arg_value.h), which each writer renders its own way. Hot path: appends to a
// caller-owned buffer, allocates nothing per event once the buffer has grown.
#pragma once

#include <cstdint>
#include <string>
#include <span>
#include <string_view>

#include "trace/arg_value.h"
#include "trace/decoder.h"
#include "trace/schema.h"

namespace cgscope::trace {

struct ContainerInfo;

struct EventView {
  const RecordView* rec = nullptr;   // header and sections (for execve: the entry record)
  const EventDesc* desc = nullptr;   // nullptr: a syscall the table does not know
  const ContainerInfo* container = nullptr;  // nullptr: the host
  int64_t ret = 0;
  bool has_ret = true;               // false: an execve whose exit was never seen
  uint64_t wall_ns = 0;              // ns since the epoch
  std::span<const NamedValue> extra{};  // values user space adds after the args (a path for an fd)
};

void append_json(std::string& out, const EventView& ev);
void append_table_header(std::string& out);
void append_table_row(std::string& out, const EventView& ev);

// JSON string body (no quotes): escapes what JSON requires and keeps the result
// strict UTF-8 whatever the bytes (a path can be any bytes). A byte that is not
// part of valid UTF-8 becomes the four characters \xHH; then it returns true, and
// the JSON writer adds a `<field>_raw` companion with the exact bytes in base64.
bool append_json_escaped(std::string& out, std::string_view s);

}  // namespace cgscope::trace
