#include "trace/struct_out.h"

#include "core/base64.h"
#include "trace/format.h"
#include "trace/named.h"

namespace cgscope::trace {

void StructOut::item() {
  if (keyed_) {
    keyed_ = false;
    return;
  }
  if (!first_) out_ += json_ ? "," : ", ";
  first_ = false;
}

void StructOut::open(char c) {
  item();
  out_ += c;
  first_ = true;
}

void StructOut::close(char c) {
  out_ += c;
  first_ = false;
}

void StructOut::key(std::string_view name) {
  if (!first_) out_ += json_ ? "," : ", ";
  first_ = false;
  if (json_) {
    out_ += '"';
    out_ += name;
    out_ += "\":";
  } else {
    out_ += name;
    out_ += '=';
  }
  keyed_ = true;
}

void StructOut::num(int64_t v) {
  item();
  named::append_dec(out_, v);
}

void StructOut::unum(uint64_t v) {
  item();
  out_ += std::to_string(v);
}

void StructOut::null() {
  item();
  out_ += json_ ? "null" : "NULL";
}

void StructOut::hex(uint64_t v) {
  sym([&](std::string& o) { named::append_hex(o, v); });
}

void StructOut::str(std::string_view s) {
  item();
  out_ += '"';
  append_json_escaped(out_, s);
  out_ += '"';
}

bool StructOut::bytes(std::string_view s, bool cut) {
  item();
  out_ += '"';
  bool invalid = append_json_escaped(out_, s);
  if (cut && json_) out_ += "...";
  out_ += '"';
  if (cut && !json_) out_ += "...";
  return invalid;
}

void StructOut::raw(std::string_view s) {
  item();
  out_ += '"';
  append_base64(out_, s);
  out_ += '"';
}

void StructOut::close_arr(bool cut) {
  if (cut && json_) str("...");
  else if (cut) more();
  close_arr();
}

void StructOut::more() {
  if (json_) return;
  item();
  out_ += "...";
}

}  // namespace cgscope::trace
