#include "trace/format.h"

#include <ctime>

#include <fmt/format.h>

#include "core/base64.h"
#include "trace/arg_value.h"
#include "trace/containers.h"
#include "trace/decode_fcntl.h"
#include "trace/fast_out.h"
#include "trace/flags.h"
#include "trace/ia32_events.h"
#include "trace/sockaddr.h"
#include "trace/signal_text.h"
#include "trace/syscall_time.h"

namespace cgscope::trace {

namespace {

// Numbers through fmt::format_int: no format string to parse, no per-character
// push_back. This is the hot path of JSON output.
template <class T>
void append_dec(std::string& out, T v) {
  fmt::format_int f(v);
  out.append(f.data(), f.size());
}
void append_int(std::string& out, int64_t v) { append_dec(out, v); }

// Length of the valid UTF-8 sequence at s[i], or 0 if the byte there starts none.
// Strict (RFC 3629): no overlong forms (C0 AF), no surrogates (ED A0 80), nothing
// past U+10FFFF; a JSON parser that checks, and Python's, refuse them.
size_t utf8_len(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = at(0);
  size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++)
    if ((at(k) >> 6) != 0x2) return 0;
  // The second byte's range where the lead alone does not rule out a bad form.
  if (c == 0xe0 && at(1) < 0xa0) return 0;   // overlong 3-byte
  if (c == 0xed && at(1) > 0x9f) return 0;   // surrogates D800-DFFF
  if (c == 0xf0 && at(1) < 0x90) return 0;   // overlong 4-byte
  if (c == 0xf4 && at(1) > 0x8f) return 0;   // past U+10FFFF
  return n;
}

// An argv/envp list: [a,b] in JSON (quoted), [a, b] in a table; a cut list ends
// in "...", a cut element too ("abc..." in JSON, "abc"... in a table, as strace).
// Returns whether an element was not valid UTF-8.
bool append_list(std::string& out, const VarSection& var, std::string_view sep, std::string_view quote) {
  out += '[';
  bool first = true, invalid = false;
  auto item = [&](std::string_view s, bool cut) {
    if (!first) out += sep;
    first = false;
    out += quote;
    invalid |= append_json_escaped(out, s);
    if (cut && !quote.empty()) out += "...";
    out += quote;
    if (cut && quote.empty()) out += "...";
  };
  if (for_each_element(var, item)) item("...", false);
  out += ']';
  return invalid;
}

// The `_raw` companion of a string or list that held bytes that are not UTF-8:
// the exact bytes in base64 (a list: one per element, null for the valid ones).
void append_json_raw(std::string& out, const ArgValue& v) {
  auto one = [&](std::string_view s) {
    out += '"';
    append_base64(out, s);
    out += '"';
  };
  if (v.kind == ArgValue::Kind::string) {
    one(v.str);
    return;
  }
  out += '[';
  bool first = true;
  bool cut = for_each_element(*v.var, [&](std::string_view s, bool) {
    if (!first) out += ',';
    first = false;
    std::string scratch;
    if (append_json_escaped(scratch, s)) one(s);
    else out += "null";
  });
  if (cut) out += first ? "null" : ",null";  // the "..." element: one entry per element, that one too
  out += ']';
}

// How each kind of value looks in JSON. Returns whether it needs a `_raw`
// companion (bytes that are not UTF-8).
bool append_json_value(std::string& out, const ArgValue& v) {
  switch (v.kind) {
    case ArgValue::Kind::null:
      out += "null";
      return false;
    case ArgValue::Kind::number:
      append_scalar_text(out, v.format, v.raw, v.ctx);
      return false;
    case ArgValue::Kind::scalar:
      out += '"';
      append_scalar_text(out, v.format, v.raw, v.ctx);
      out += '"';
      return false;
    case ArgValue::Kind::string: {
      out += '"';
      bool invalid = append_json_escaped(out, v.str);
      if (v.truncated) out += "...";
      out += '"';
      return invalid;
    }
    case ArgValue::Kind::strings:
      return append_list(out, *v.var, ",", "\"");
    case ArgValue::Kind::sockaddr: {
      SockaddrView sa = decode_sockaddr(v.var->data);
      out += "{\"family\":\"";
      append_json_escaped(out, sa.family);
      out += "\",\"address\":\"";
      append_json_escaped(out, sa.address);
      out += '"';
      if (sa.port >= 0) fmt::format_to(std::back_inserter(out), ",\"port\":{}", sa.port);
      out += '}';
      return false;
    }
    case ArgValue::Kind::structure:
      append_struct_value(out, v, true);
      return false;
  }
  return false;
}

// How each kind of value looks in a table row.
void append_table_value(std::string& out, const ArgValue& v) {
  switch (v.kind) {
    case ArgValue::Kind::null:
      out += "NULL";
      return;
    case ArgValue::Kind::number:
    case ArgValue::Kind::scalar:
      append_scalar_text(out, v.format, v.raw, v.ctx);
      return;
    case ArgValue::Kind::string:
      out += '"';
      append_json_escaped(out, v.str);
      out += '"';
      if (v.truncated) out += "...";  // after the quote, as strace marks a cut string
      return;
    case ArgValue::Kind::strings:
      (void)append_list(out, *v.var, ", ", "");
      return;
    case ArgValue::Kind::sockaddr:
      format_sockaddr(out, v.var->data);
      return;
    case ArgValue::Kind::structure:
      append_struct_value(out, v, false);
      return;
  }
}

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
    fn(name, arg_value(a, raw, ev.rec->vars[i], ctx, h->ret));
  }
  for (const NamedValue& extra : ev.extra) fn(extra.name, extra.value);
}

bool is_error(const EventView& ev) {
  return ev.ret < 0 && ev.ret >= -4095 && is_syscall_nr(ev.rec->hdr->nr);
}

// Whether the call's return may have a name (its command decides): the one test
// every other event pays.
bool has_ret_name(const EventView& ev) { return ev.desc && ev.desc->ret == RetFormat::fcntl; }

// A successful return by name (fcntl's F_GETFL: "O_RDWR|O_APPEND"); false, with
// nothing appended, where the return is a plain number.
bool append_ret_name(std::string& out, const EventView& ev) {
  if (!has_ret_name(ev) || is_error(ev)) return false;
  uint8_t cmd = ev.desc->ret_ctx_arg;
  return cmd < CGS_NARGS && format_fcntl_ret(out, ev.rec->hdr->args[cmd], ev.ret);
}

std::string_view comm_of(const cgs_record* h) {
  size_t n = 0;
  while (n < CGS_COMM_LEN && h->comm[n]) n++;
  return {h->comm, n};
}

}  // namespace

bool append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  bool invalid = false;
  for (size_t i = 0; i < s.size();) {
    // Plain printable ASCII (nearly every path) is copied in one piece.
    size_t run = i;
    while (run < s.size()) {
      auto b = static_cast<unsigned char>(s[run]);
      if (b < 0x20 || b >= 0x7f || b == '"' || b == '\\') break;
      run++;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      i++;
    } else if (c == '\n') {
      out += "\\n";
      i++;
    } else if (c == '\t') {
      out += "\\t";
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xf];
      i++;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      i++;
    } else if (size_t n = utf8_len(s, i); n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      // Not UTF-8: shown as the four characters \xHH, and the caller adds the
      // exact bytes in a `_raw` companion (docs/trace-events.md).
      out += "\\\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
      invalid = true;
      i++;
    }
  }
  return invalid;
}

namespace {

// `,"cgroup_id":N,"container_id":`.
void put_json_ids(FastOut& o, const EventView& ev) {
  o.lit(",\"cgroup_id\":");
  o.dec(ev.rec->hdr->cgroup_id);
  o.lit(",\"container_id\":");
}
constexpr size_t kIdsMax = FastOut::kDecMax + 32;

// The same from `"comm":"` on, for a comm that needs escaping.
void append_json_odd_comm(std::string& out, const EventView& ev) {
  std::string_view comm = comm_of(ev.rec->hdr);
  if (append_json_escaped(out, comm)) {
    out += "\",\"comm_raw\":\"";
    append_base64(out, comm);
  }
  FastOut o(out, 1 + kIdsMax);
  o.ch('"');
  put_json_ids(o, ev);
}

// `,"ret":...}` and the newline.
void append_json_ret(std::string& out, const EventView& ev) {
  if (!ev.has_ret) {
    append_lit(out, ",\"ret\":null}\n");
    return;
  }
  {
    FastOut o(out, FastOut::kDecMax + 8);
    o.lit(",\"ret\":");
    o.dec(ev.ret);
  }
  if (has_ret_name(ev)) {
    size_t at = out.size();
    append_lit(out, ",\"ret_text\":\"");
    if (append_ret_name(out, ev)) out += '"';
    else out.resize(at);
  }
  if (is_error(ev)) {
    append_lit(out, ",\"error\":\"");
    out += errno_name(static_cast<int>(-ev.ret));
    out += '"';
  }
  if (ev.rec->has_duration) {
    FastOut o(out, FastOut::kDecMax + 16);
    o.lit(",\"duration_ns\":");
    o.dec(ev.rec->duration_ns);
  }
  append_lit(out, "}\n");
}

}  // namespace

void append_json_ident(std::string& out, const EventView& ev) {
  const cgs_record* h = ev.rec->hdr;
  std::string_view comm = comm_of(h);
  std::string_view name = ev.desc ? std::string_view(ev.desc->name) : std::string_view();
  // 7 numbers (the 6 fields, and syscall_N's when the name is unknown), the field
  // names (under 96 bytes with "abi"), the name, a plain comm, the ids.
  size_t bound = 7 * FastOut::kDecMax + 112 + name.size() + comm.size() + kIdsMax;
  auto up_to_comm = [&](FastOut& o) {
    // An ia32 call: its bare name, "abi":"ia32" and its i386 number.
    bool ia32 = is_ia32_nr(h->nr);
    uint32_t id = ia32 ? h->nr - CGS_IA32_NR_BASE : h->nr;
    o.lit(",\"event\":\"");
    if (ev.desc) {
      o.bytes(name);
    } else {
      o.lit("syscall_");
      o.dec(id);
    }
    if (ia32) o.lit("\",\"abi\":\"ia32");
    o.lit("\",\"id\":");
    o.dec(id);
    o.lit(",\"pid\":");
    o.dec(h->pid);
    o.lit(",\"tid\":");
    o.dec(h->tid);
    o.lit(",\"ppid\":");
    o.dec(h->ppid);
    o.lit(",\"uid\":");
    o.dec(h->uid);
    o.lit(",\"gid\":");
    o.dec(h->gid);
    o.lit(",\"comm\":\"");
  };
  if (plain_ascii(comm)) {
    FastOut o(out, bound);
    up_to_comm(o);
    o.bytes(comm);
    o.ch('"');
    put_json_ids(o, ev);
    return;
  }
  {
    FastOut o(out, bound);
    up_to_comm(o);
  }
  append_json_odd_comm(out, ev);
}

void append_json(std::string& out, const EventView& ev) {
  {
    FastOut o(out, 6 + FastOut::kDecMax);
    o.lit("{\"ts\":");
    o.dec(ev.wall_ns);
  }
  append_json_ident(out, ev);
  append_json_rest(out, ev);
}

void append_json_rest(std::string& out, const EventView& ev) {
  if (!ev.container) {
    append_lit(out, "null");
  } else {
    out += '"';
    append_json_escaped(out, ev.container->id);
    append_lit(out, "\",\"container_runtime\":\"");
    append_json_escaped(out, ev.container->runtime);
    out += '"';
    if (!ev.container->pod_uid.empty()) {
      append_lit(out, ",\"pod_uid\":\"");
      append_json_escaped(out, ev.container->pod_uid);
      out += '"';
    }
  }
  append_lit(out, ",\"args\":{");
  if (is_signal_event(ev.rec->hdr->nr)) append_signal_json_args(out, *ev.rec->hdr);
  bool first = true;
  if (!is_signal_event(ev.rec->hdr->nr)) for_each_arg(ev, [&](std::string_view name, const ArgValue& v) {
    if (!first) out += ',';
    first = false;
    out += '"';
    out += name;
    append_lit(out, "\":");
    if (append_json_value(out, v)) {
      append_lit(out, ",\"");
      out += name;
      append_lit(out, "_raw\":");
      append_json_raw(out, v);
    }
  });
  out += '}';
  append_json_ret(out, ev);
}

size_t text_columns(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

void fit_row(std::string& out, size_t row_start, size_t cut_from, size_t keep_from, size_t width) {
  if (width == 0) return;
  std::string_view row(out.data() + row_start, out.size() - row_start);
  if (!row.empty() && row.back() == '\n') row.remove_suffix(1);
  size_t total = text_columns(row);
  if (total <= width) return;
  size_t fixed = total - text_columns(std::string_view(out.data() + cut_from, keep_from - cut_from));
  // What the cut part may keep, less a column for the "…".
  size_t room = fixed + 1 < width ? width - fixed - 1 : 0;
  size_t end = cut_from;
  for (size_t cols = 0; end < keep_from; end++) {
    bool lead = (static_cast<unsigned char>(out[end]) & 0xc0) != 0x80;
    if (lead && cols++ == room) break;  // the character that would not fit starts here
  }
  out.replace(end, keep_from - end, "\u2026");
}

namespace {

// The table's columns: TIME (HH:MM:SS.mmm), CONTAINER (a short id, as docker ps
// shows), COMM (the kernel keeps 15 bytes), PID, TID, EVENT; 75 columns before
// the arguments. A terminal narrower than kCompactBelow gets the compact layout:
// TIME without the hour (MM:SS.mmm), the container by 6 characters of its id (a
// container tracer that drops the container at 80 columns loses its point), COMM,
// TID (the thread, as strace -f names it), EVENT; 58 columns, so that 80 leave
// ARGS 22.
constexpr size_t kContainerWidth = 12, kShortContainerWidth = 6, kCommWidth = 15, kPidWidth = 7, kEventWidth = 16;
constexpr size_t kCompactBelow = 120;

}  // namespace

bool compact_layout(size_t width) { return width > 0 && width < kCompactBelow; }

namespace {

void append_left(std::string& out, std::string_view s, size_t width) {
  out += s;
  if (s.size() < width) out.append(width - s.size(), ' ');
  out += ' ';
}

void append_hex_ret(std::string& out, int64_t v) {
  char buf[24];
  auto end = fmt::format_to(buf, "0x{:x}", static_cast<uint64_t>(v));
  out.append(buf, end);
}

// A return that has a name shows its number in hex and the name, as strace does
// ("0x802 (O_RDWR|O_APPEND)"); any other, the decimal.
void append_ret_text(std::string& out, const EventView& ev) {
  if (!has_ret_name(ev)) {
    append_int(out, ev.ret);
    return;
  }
  size_t at = out.size();
  append_hex_ret(out, ev.ret);
  out += " (";
  if (append_ret_name(out, ev)) {
    out += ')';
  } else {
    out.resize(at);
    append_int(out, ev.ret);
  }
}

void append_right(std::string& out, uint64_t v, size_t width) {
  fmt::format_int f(v);
  if (f.size() < width) out.append(width - f.size(), ' ');
  out.append(f.data(), f.size());
  out += ' ';
}

// HH:MM:SS.mmm of the local clock. localtime_r takes a lock and reads the zone
// each call: it is called once a second of events, not once an event.
void append_clock(std::string& out, uint64_t wall_ns, bool without_hour) {
  thread_local time_t last = -1;
  thread_local char hms[16];
  time_t secs = static_cast<time_t>(wall_ns / 1000000000);
  if (secs != last) {
    struct tm tm;
    localtime_r(&secs, &tm);
    std::snprintf(hms, sizeof hms, "%02d:%02d:%02d.", tm.tm_hour, tm.tm_min, tm.tm_sec);
    last = secs;
  }
  if (without_hour) out.append(hms + 3, 6);
  else out.append(hms, 9);
  unsigned ms = unsigned(wall_ns / 1000000 % 1000);
  out += char('0' + ms / 100);
  out += char('0' + ms / 10 % 10);
  out += char('0' + ms % 10);
  out += ' ';
}

}  // namespace

void append_table_header(std::string& out, size_t width) {
  size_t row = out.size();
  bool compact = compact_layout(width);
  append_left(out, "TIME", compact ? 9 : 12);
  if (compact) append_left(out, "CTR ID", kShortContainerWidth);
  else append_left(out, "CONTAINER", kContainerWidth);
  append_left(out, "COMM", kCommWidth);
  if (!compact) {
    out.append(kPidWidth - 3, ' ');
    out += "PID ";
  }
  out.append(kPidWidth - 3, ' ');
  out += "TID ";
  append_left(out, "EVENT", kEventWidth);
  size_t args = out.size();
  out += "ARGS = RET\n";
  fit_row(out, row, args, out.size() - 1, width);
}

void append_table_lead(std::string& out, const EventView& ev, bool compact) {
  append_clock(out, ev.wall_ns, compact);
  const size_t container_width = compact ? kShortContainerWidth : kContainerWidth;
  append_left(out, ev.container ? std::string_view(ev.container->id).substr(0, container_width) : "host",
              container_width);
}

void append_table_ident(std::string& out, const EventView& ev, bool compact) {
  const cgs_record* h = ev.rec->hdr;
  // A program names itself (PR_SET_NAME): escaped, so that it cannot drive the terminal.
  size_t at = out.size();
  append_json_escaped(out, comm_of(h));
  if (out.size() - at < kCommWidth) out.append(kCommWidth - (out.size() - at), ' ');
  out += ' ';
  if (!compact) append_right(out, h->pid, kPidWidth);
  append_right(out, h->tid, kPidWidth);
  if (ev.desc && !is_ia32_nr(h->nr)) {
    append_left(out, ev.desc->name, kEventWidth);
  } else {
    // ia32 calls as "ia32:open" (ia32_events.h); unknown ones by number.
    char generic[48];
    auto end = !ev.desc ? fmt::format_to(generic, "{}syscall_{}", is_ia32_nr(h->nr) ? "ia32:" : "",
                                         is_ia32_nr(h->nr) ? h->nr - CGS_IA32_NR_BASE : h->nr)
                        : fmt::format_to(generic, "ia32:{:.40}", ev.desc->name);
    append_left(out, std::string_view(generic, size_t(end - generic)), kEventWidth);
  }
}

void append_table_rest(std::string& out, const EventView& ev, size_t row, size_t width) {
  size_t args = out.size();
  if (is_signal_event(ev.rec->hdr->nr)) {  // strace's "--- SIG {...} ---", no " = RET"
    append_signal_text(out, *ev.rec->hdr);
    out += '\n';
    fit_row(out, row, args, out.size() - 1, width);
    return;
  }
  bool first = true;
  for_each_arg(ev, [&](std::string_view name, const ArgValue& v) {
    if (!first) out += ' ';
    first = false;
    out += name;
    out += '=';
    append_table_value(out, v);
  });
  size_t ret = out.size();
  append_lit(out, " = ");
  if (!ev.has_ret) out += '?';
  else if (is_error(ev)) format_errno(out, ev.ret);
  else if (ev.desc && ev.desc->ret == RetFormat::address) append_hex_ret(out, ev.ret);
  else append_ret_text(out, ev);
  if (ev.rec->has_duration) append_duration_text(out, ev.rec->duration_ns);
  out += '\n';
  fit_row(out, row, args, ret, width);
}

void append_table_row(std::string& out, const EventView& ev, size_t width) {
  size_t row = out.size();
  bool compact = compact_layout(width);
  append_table_lead(out, ev, compact);
  append_table_ident(out, ev, compact);
  append_table_rest(out, ev, row, width);
}

}  // namespace cgscope::trace
