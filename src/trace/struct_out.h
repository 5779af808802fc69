// One writer for both shapes of a decoded struct: strace's text
// (`{st_mode=S_IFREG|0644, st_size=5, ...}`) for the table, and a JSON object
// with the same field names (`{"st_mode":"S_IFREG|0644","st_size":5}`). A
// decoder says what the struct holds once (decode_struct.h) and this class
// spells it; strace's "..." for fields it leaves out exists in text only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cgscope::trace {

class StructOut {
 public:
  StructOut(std::string& out, bool json) : out_(out), json_(json) {}

  void open_obj() { open('{'); }
  void close_obj() { close('}'); }
  void open_arr() { open('['); }
  void close_arr() { close(']'); }
  // An array the kernel cut (CGS_STRUCT_MAX) ends in "...": strace's mark in
  // text, a last element "..." in JSON (as a cut argv).
  void close_arr(bool cut);
  // Before a field's value.
  void key(std::string_view name);
  // Values (each also an array element when no key came before it).
  void num(int64_t v);
  void unum(uint64_t v);
  void null();           // no value: NULL in text, null in JSON
  void hex(uint64_t v);  // a pointer or a word read best in hex ("0x7ffd..."; JSON: a string)
  // A symbolic value built by `fn(std::string&)`: text as is, JSON as a string.
  template <class Fn>
  void sym(Fn&& fn) {
    item();
    if (json_) out_ += '"';
    fn(out_);
    if (json_) out_ += '"';
  }
  void sym_text(std::string_view s) {
    sym([&](std::string& o) { o += s; });
  }
  void str(std::string_view s);  // a quoted, escaped string
  // Bytes as a string, "..." marking a cut (after the quote in text, as strace
  // does; inside it in JSON, as an argument's). Returns whether they are not
  // UTF-8 (JSON: the caller adds a "_raw" companion, as for arguments).
  bool bytes(std::string_view s, bool cut);
  // The companion: the exact bytes in base64.
  void raw(std::string_view s);
  void more();                   // fields left out: ", ..." in text, nothing in JSON
  bool json() const { return json_; }

 private:
  void open(char c);
  void close(char c);
  void item();  // the separator before a value that is no field's

  std::string& out_;
  bool json_;
  bool first_ = true;   // nothing yet in the innermost object or array
  bool keyed_ = false;  // a key was written: the next value follows it
};

}  // namespace cgscope::trace
