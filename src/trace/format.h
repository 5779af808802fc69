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
// The two parts of a JSON line after `{"ts":N`, for a writer that keeps the first
// (JsonWriter): `,"event":...,"container_id":`, which only the event's task and
// syscall decide, and the rest (the container, the arguments, the result, "}\n").
void append_json_ident(std::string& out, const EventView& ev);
void append_json_rest(std::string& out, const EventView& ev);
// `width`: the columns a row may take (a terminal's), 0 for no limit (a file, a
// pipe). A row too wide loses the end of its ARGS, marked "…", and keeps
// " = RET"; the header is cut the same way. Below 120 columns the layout is the
// compact one: no CONTAINER and no PID column (TID stays).
void append_table_header(std::string& out, size_t width = 0);
void append_table_row(std::string& out, const EventView& ev, size_t width = 0);
// The three parts of a row, for a writer that keeps the middle one (TableWriter):
// TIME and CONTAINER; COMM, PID, TID and EVENT, which only the event's task and
// syscall decide; the arguments and the result, then the row fitted into `width`
// from `row` (where it began) on.
bool compact_layout(size_t width);
void append_table_lead(std::string& out, const EventView& ev, bool compact);
void append_table_ident(std::string& out, const EventView& ev, bool compact);
void append_table_rest(std::string& out, const EventView& ev, size_t row, size_t width);

// The columns `s` takes on a terminal: one per character (UTF-8 continuation
// bytes take none; the table escapes control bytes, and a wide character is
// counted as one).
size_t text_columns(std::string_view s);

// Fits the row out[row_start..] (ending in '\n') into `width` columns by cutting
// the part out[cut_from, keep_from) at a character boundary and putting "…" in
// its place; what is before cut_from and from keep_from on stays whole. No
// change if the row fits or width is 0.
void fit_row(std::string& out, size_t row_start, size_t cut_from, size_t keep_from, size_t width);

// JSON string body (no quotes): escapes what JSON requires and keeps the result
// strict UTF-8 whatever the bytes (a path can be any bytes). A byte that is not
// part of valid UTF-8 becomes the four characters \xHH; then it returns true, and
// the JSON writer adds a `<field>_raw` companion with the exact bytes in base64.
bool append_json_escaped(std::string& out, std::string_view s);

}  // namespace cgscope::trace
