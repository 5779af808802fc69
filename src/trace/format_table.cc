// The table event writer (format.h): one row per event, fitted to a width.
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
#include "trace/format_parts.h"

namespace cgscope::trace {

using namespace format_parts;

namespace {

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

}  // namespace

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
  // select's count stays decimal: "2 (in [3], out [4])".
  if (ev.desc->ret == RetFormat::select) append_int(out, ev.ret);
  else append_hex_ret(out, ev.ret);
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
