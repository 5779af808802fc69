// An event's argument as a value, decided once from its description, its raw
// register and its captured section: what the output writers render. The JSON
// writer and the table writer each say how a kind of value looks; neither looks
// at sections or formats again (format_json.cc, format_table.cc).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "trace/arg_limits.h"
#include "trace/arg_spec.h"
#include "trace/decoder.h"

namespace cgscope::trace {

struct ArgDesc;

struct ArgValue {
  enum class Kind : uint8_t {
    null,      // no value: a NULL pointer, an unreadable one (JSON null, table NULL)
    number,    // a plain number: signed_dec, unsigned_dec, fd (JSON number)
    scalar,    // a number shown as text: flags, modes, AT_FDCWD, pointers (JSON string)
    string,    // bytes: a path, a buffer (JSON string, escaped)
    strings,   // argv/envp (JSON array of strings)
    sockaddr,  // a socket address (JSON object)
    structure, // a struct or an array of them (decode_struct.h): JSON object/array,
               // strace's text in a table; `ctx` holds the call's return value
  };
  Kind kind = Kind::null;
  ArgFormat format = ArgFormat::hex;  // number/scalar: how `raw` reads
  uint64_t raw = 0;
  uint64_t ctx = 0;                   // number/scalar: the argument `format` is read by (fcntl's cmd)
  std::string_view str;               // string
  const VarSection* var = nullptr;    // strings, sockaddr: the section
  const VarSection* iov = nullptr;    // structure of iovecs (an array, a msghdr): their contents, if kept
  bool truncated = false;             // string: cut short (shown with a trailing "...")

  static ArgValue text(std::string_view s, bool cut = false) {
    ArgValue v;
    v.kind = Kind::string;
    v.str = s;
    v.truncated = cut;
    return v;
  }
};

// A value with its name, for what user space adds to an event (a path for an fd).
struct NamedValue {
  std::string_view name;
  ArgValue value;
};

// The value of argument `a` whose register held `raw` and whose section is `var`
// (present or not): a section always wins over the raw value. `ctx` is the raw
// value of the argument a.ctx_arg names, for formats read by another argument.
ArgValue arg_value(const ArgDesc& a, uint64_t raw, const VarSection& var, uint64_t ctx = 0, int64_t ret = 0);

// The call's own section (RecordView::call_section) for the argument it
// describes: an iovec array's or a msghdr's contents (CGS_ARG_IOVDATA), one of
// select's sets or its timeout (CGS_ARG_SELECT). `v` is arg_value's for it.
void attach_call_section(ArgValue& v, const ArgDesc& a, uint64_t raw, const VarSection& call, int64_t ret);

// A structure value: strace's text (json false) or JSON; the address when its
// bytes are not such a struct.
void append_struct_value(std::string& out, const ArgValue& v, bool json);

// The text of a number or scalar value (unquoted): "3", "O_RDONLY|O_CLOEXEC",
// "AT_FDCWD", "0x7ffd..."; `ctx` as for arg_value.
void append_scalar_text(std::string& out, ArgFormat f, uint64_t v, uint64_t ctx = 0);

// The elements of an argv/envp section, as fn(element, cut): `cut` for one the
// kernel cut at -s (CGS_VAR_F_ELEM_KEEP: it kept one byte more than is shown).
// Returns whether the list itself was cut (more elements or bytes than kept).
template <class Fn>
bool for_each_element(const VarSection& var, Fn&& fn) {
  uint32_t keep = (var.flags & CGS_VAR_F_ELEM_KEEP) ? arg_limits().elem_keep : 0;
  for_each_string(var.data, [&](std::string_view s) {
    if (keep && s.size() > keep) fn(s.substr(0, keep), true);
    else fn(s, false);
  });
  return var.truncated();
}

}  // namespace cgscope::trace
