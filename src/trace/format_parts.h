// Pieces both event writers use (format_json.cc, format_table.cc): the walk
// over an event's arguments, the error test, a return's name, the comm, and an
// argv list; with append_json_escaped (format.h) they are format.cc.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "trace/arg_value.h"
#include "trace/format.h"
#include "trace/ia32_events.h"

namespace cgscope::trace::format_parts {

// Numbers through fmt::format_int: no format string to parse, no per-character
// push_back. This is the hot path of JSON output.
template <class T>
void append_dec(std::string& out, T v) {
  fmt::format_int f(v);
  out.append(f.data(), f.size());
}
inline void append_int(std::string& out, int64_t v) { append_dec(out, v); }

// An argv/envp list: [a,b] in JSON (quoted), [a, b] in a table; a cut list ends
// in "...", a cut element too ("abc..." in JSON, "abc"... in a table, as strace).
// Returns whether an element was not valid UTF-8.
bool append_list(std::string& out, const VarSection& var, std::string_view sep, std::string_view quote);

// Calls fn(name, value) for each argument of the event, then for each value
// user space added: the one walk both writers share.
template <class Fn>
void for_each_arg(const EventView& ev, Fn&& fn) {
  const cgs_record* h = ev.rec->hdr;
  unsigned nargs = ev.desc ? ev.desc->nargs : CGS_NARGS;
  char generic[8];
  for (unsigned i = 0; i < nargs && i < CGS_NARGS; i++) {
    ArgDesc a = ev.desc ? ev.desc->args[i] : ArgDesc{};
    std::string_view name = a.name;
    if (!ev.desc) name = std::string_view(generic, size_t(fmt::format_to(generic, "arg{}", i) - generic));
    uint64_t ctx = a.ctx_arg < CGS_NARGS ? h->args[a.ctx_arg] : 0;
    uint64_t raw = h->args[i];
    if (ev.desc && ev.desc->abi == Abi::ia32) raw = ia32_arg_value(a.format, raw);
    ArgValue v = arg_value(a, raw, ev.rec->vars[i], ctx, h->ret);
    const VarSection& call = ev.rec->call_section;
    if (call.present) attach_call_section(v, a, raw, call, h->ret);
    fn(name, v);
  }
  for (const NamedValue& extra : ev.extra) fn(extra.name, extra.value);
}

// Inline, as the writers were one file: both run for every event.
inline bool is_error(const EventView& ev) {
  return ev.ret < 0 && ev.ret >= -4095 && is_syscall_nr(ev.rec->hdr->nr);
}

// Whether the call's return may have a name (its command decides): the one test
// every other event pays.
inline bool has_ret_name(const EventView& ev) {
  return ev.desc && (ev.desc->ret == RetFormat::fcntl || ev.desc->ret == RetFormat::select);
}
// A successful return by name (fcntl's F_GETFL: "O_RDWR|O_APPEND"), or what
// select found ("in [3], left {...}"); false, with nothing appended, where the
// return is a plain number.
bool append_ret_name(std::string& out, const EventView& ev);
inline std::string_view comm_of(const cgs_record* h) {
  size_t n = 0;
  while (n < CGS_COMM_LEN && h->comm[n]) n++;
  return {h->comm, n};
}

}  // namespace cgscope::trace::format_parts
