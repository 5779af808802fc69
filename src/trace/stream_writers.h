// JSON lines and table rows for the event stream, with a memory of the last
// line's identity. A storm's events come mostly from one thread doing one
// syscall, so the part of the line that only the task and the syscall decide
// (JSON: `"event"` through `"container_id"`, 6 numbers, a name, a comm; table:
// COMM PID TID EVENT) is rendered once and copied while it stays the same; the
// JSON timestamp's seconds are kept as text too. The output is exactly
// append_json's and append_table_row's (unit tests hold both).
#pragma once

#include <cstdint>
#include <string>

#include "trace/event_identity.h"
#include "trace/format.h"

namespace cgscope::trace {

class JsonWriter {
 public:
  void append(std::string& out, const EventView& ev);

 private:
  void append_ts(std::string& out, uint64_t wall_ns);

  IdentityText ident_;
  uint64_t sec_ = UINT64_MAX;  // the seconds whose text sec_text_ holds
  std::string sec_text_;       // `{"ts":` and those seconds in decimal
};

class TableWriter {
 public:
  // `width` as append_table_row's.
  void append(std::string& out, const EventView& ev, size_t width);

 private:
  IdentityText ident_;
};

}  // namespace cgscope::trace
