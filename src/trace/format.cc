#include "trace/format.h"

#include <ctime>

#include <fmt/format.h>

#include "trace/containers.h"
#include "trace/flags.h"
#include "trace/sockaddr.h"

namespace cgscope::trace {

namespace {

constexpr int64_t kAtFdcwd = -100;

// Numbers through fmt::format_int: no format string to parse, no per-character
// push_back. This is the hot path of JSON output.
template <class T>
void append_dec(std::string& out, T v) {
  fmt::format_int f(v);
  out.append(f.data(), f.size());
}
void append_uint(std::string& out, uint64_t v) { append_dec(out, v); }
void append_int(std::string& out, int64_t v) { append_dec(out, v); }
void append_hex(std::string& out, uint64_t v) {
  char buf[24];
  auto end = fmt::format_to(buf, "0x{:x}", v);
  out.append(buf, end);
}
// `"key":value,` pieces of the fixed JSON header.
void append_field(std::string& out, std::string_view key_with_quotes_and_colon, uint64_t v) {
  out += key_with_quotes_and_colon;
  append_uint(out, v);
}

// Length of the valid UTF-8 sequence at s[i], or 0 if the byte there starts none.
size_t utf8_len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 0;
  return n;
}

// How an argument is written: the flag/enum formats as strings, numbers as
// numbers, so that JSON consumers can compare either without parsing.
enum class Shape { number, string };

Shape value_shape(ArgFormat f) {
  switch (f) {
    case ArgFormat::signed_dec:
    case ArgFormat::unsigned_dec:
    case ArgFormat::fd:
      return Shape::number;
    default:
      return Shape::string;
  }
}

// The text of a scalar argument, unquoted.
void append_scalar_text(std::string& out, ArgFormat f, uint64_t v) {
  switch (f) {
    case ArgFormat::signed_dec: append_int(out, static_cast<int64_t>(v)); break;
    case ArgFormat::unsigned_dec: append_uint(out, v); break;
    case ArgFormat::fd: append_int(out, static_cast<int32_t>(v)); break;
    case ArgFormat::dirfd:
      if (static_cast<int32_t>(v) == kAtFdcwd) out += "AT_FDCWD";
      else append_int(out, static_cast<int32_t>(v));
      break;
    case ArgFormat::mode_octal: format_mode(out, v); break;
    case ArgFormat::open_flags: format_open_flags(out, v); break;
    case ArgFormat::at_flags: format_at_flags(out, v); break;
    case ArgFormat::mmap_prot: format_mmap_prot(out, v); break;
    case ArgFormat::mmap_flags: format_mmap_flags(out, v); break;
    case ArgFormat::clone_flags: format_clone_flags(out, v); break;
    case ArgFormat::signal: format_signal(out, v); break;
    case ArgFormat::socket_domain: format_socket_domain(out, v); break;
    case ArgFormat::socket_type: format_socket_type(out, v); break;
    default: append_hex(out, v); break;
  }
}

// The elements of an argv/envp section, at most CGS_ARGV_MAX_ELEMS of them (the
// argv block of an exec'd image arrives whole, up to its byte limit). Returns
// whether anything was cut, here or in the kernel.
template <class Fn>
bool for_each_element(const VarSection& var, Fn&& fn) {
  size_t n = 0;
  bool cut = var.truncated();
  for_each_string(var.data, [&](std::string_view s) {
    if (n++ < CGS_ARGV_MAX_ELEMS) fn(s);
    else cut = true;
  });
  return cut;
}

bool is_pointer_data(ArgFormat f) {
  return f == ArgFormat::string || f == ArgFormat::string_array || f == ArgFormat::sockaddr ||
         f == ArgFormat::buffer;
}

// Pseudo events show some arguments from the record's fixed args[] and some from
// sections; a section always wins over the raw value.
void append_json_arg(std::string& out, const ArgDesc& a, uint64_t raw, const VarSection& var) {
  if (var.present) {
    switch (var.kind) {
      case CGS_ARG_STR:
        if (var.fault()) {
          out += "null";
          return;
        }
        out += '"';
        append_json_escaped(out, var.str());
        if (var.truncated()) out += "...";
        out += '"';
        return;
      case CGS_ARG_STRARR: {
        out += '[';
        bool first = true;
        bool cut = for_each_element(var, [&](std::string_view s) {
          if (!first) out += ',';
          first = false;
          out += '"';
          append_json_escaped(out, s);
          out += '"';
        });
        if (cut) out += first ? "\"...\"" : ",\"...\"";
        out += ']';
        return;
      }
      case CGS_ARG_SOCKADDR:
      case CGS_ARG_SOCKADDR_PLEN: {
        SockaddrView sa = decode_sockaddr(var.data);
        out += "{\"family\":\"";
        append_json_escaped(out, sa.family);
        out += "\",\"address\":\"";
        append_json_escaped(out, sa.address);
        out += '"';
        if (sa.port >= 0) fmt::format_to(std::back_inserter(out), ",\"port\":{}", sa.port);
        out += '}';
        return;
      }
      case CGS_ARG_BUF:
        out += '"';
        append_json_escaped(out, std::string_view(reinterpret_cast<const char*>(var.data.data()), var.data.size()));
        if (var.truncated()) out += "...";
        out += '"';
        return;
      default:
        break;
    }
  }
  if (is_pointer_data(a.format) && raw == 0) {
    out += "null";
    return;
  }
  if (value_shape(a.format) == Shape::number) {
    append_scalar_text(out, a.format, raw);
    return;
  }
  out += '"';
  append_scalar_text(out, is_pointer_data(a.format) ? ArgFormat::pointer : a.format, raw);
  out += '"';
}

void append_table_arg(std::string& out, const ArgDesc& a, uint64_t raw, const VarSection& var) {
  if (var.present && (var.kind == CGS_ARG_STR || var.kind == CGS_ARG_BUF)) {
    out += '"';
    append_json_escaped(out, var.kind == CGS_ARG_STR
                                 ? var.str()
                                 : std::string_view(reinterpret_cast<const char*>(var.data.data()), var.data.size()));
    if (var.truncated()) out += "...";
    out += '"';
    return;
  }
  if (var.present && var.kind == CGS_ARG_STRARR) {
    out += '[';
    bool first = true;
    bool cut = for_each_element(var, [&](std::string_view s) {
      if (!first) out += ", ";
      first = false;
      append_json_escaped(out, s);
    });
    if (cut) out += first ? "..." : ", ...";
    out += ']';
    return;
  }
  if (var.present && (var.kind == CGS_ARG_SOCKADDR || var.kind == CGS_ARG_SOCKADDR_PLEN)) {
    format_sockaddr(out, var.data);
    return;
  }
  if (is_pointer_data(a.format) && raw == 0) {
    out += "NULL";
    return;
  }
  append_scalar_text(out, is_pointer_data(a.format) ? ArgFormat::pointer : a.format, raw);
}

std::string_view comm_of(const cgs_record* h) {
  size_t n = 0;
  while (n < CGS_COMM_LEN && h->comm[n]) n++;
  return {h->comm, n};
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
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
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xf];
      i++;
    }
  }
}

void append_json(std::string& out, const EventView& ev) {
  const cgs_record* h = ev.rec->hdr;
  auto it = std::back_inserter(out);
  append_field(out, "{\"ts\":", ev.wall_ns);
  out += ",\"event\":\"";
  if (ev.desc) out += ev.desc->name;
  else fmt::format_to(it, "syscall_{}", h->nr);
  out += '"';
  append_field(out, ",\"id\":", h->nr);
  append_field(out, ",\"pid\":", h->pid);
  append_field(out, ",\"tid\":", h->tid);
  append_field(out, ",\"ppid\":", h->ppid);
  append_field(out, ",\"uid\":", h->uid);
  append_field(out, ",\"gid\":", h->gid);
  out += ",\"comm\":\"";
  append_json_escaped(out, comm_of(h));
  out += '"';
  append_field(out, ",\"cgroup_id\":", h->cgroup_id);
  out += ",\"container_id\":";
  if (ev.container) {
    out += '"';
    append_json_escaped(out, ev.container->id);
    out += "\",\"container_runtime\":\"";
    append_json_escaped(out, ev.container->runtime);
    out += '"';
    if (!ev.container->pod_uid.empty()) {
      out += ",\"pod_uid\":\"";
      append_json_escaped(out, ev.container->pod_uid);
      out += '"';
    }
  } else {
    out += "null";
  }
  out += ",\"args\":{";
  unsigned nargs = ev.desc ? ev.desc->nargs : CGS_NARGS;
  for (unsigned i = 0; i < nargs && i < CGS_NARGS; i++) {
    if (i) out += ',';
    out += '"';
    if (ev.desc) out += ev.desc->args[i].name;
    else fmt::format_to(it, "arg{}", i);
    out += "\":";
    ArgDesc a = ev.desc ? ev.desc->args[i] : ArgDesc{};
    append_json_arg(out, a, h->args[i], ev.rec->vars[i]);
  }
  out += "},\"ret\":";
  if (!ev.has_ret) {
    out += "null";
  } else {
    append_int(out, ev.ret);
    if (ev.ret < 0 && ev.ret >= -4095 && h->nr < CGS_MAX_SYSCALLS) {
      out += ",\"error\":\"";
      out += errno_name(static_cast<int>(-ev.ret));
      out += '"';
    }
  }
  out += "}\n";
}

void append_table_header(std::string& out) {
  fmt::format_to(std::back_inserter(out), "{:<15} {:<12} {:<16} {:>7} {:>7} {:<18} {} = {}\n", "TIME", "CONTAINER",
                 "COMM", "PID", "TID", "EVENT", "ARGS", "RET");
}

void append_table_row(std::string& out, const EventView& ev) {
  const cgs_record* h = ev.rec->hdr;
  auto it = std::back_inserter(out);
  time_t secs = static_cast<time_t>(ev.wall_ns / 1000000000);
  struct tm tm;
  localtime_r(&secs, &tm);
  std::string_view cont = ev.container ? std::string_view(ev.container->id).substr(0, 12) : "host";
  std::string name = ev.desc ? std::string(ev.desc->name) : fmt::format("syscall_{}", h->nr);
  fmt::format_to(it, "{:02}:{:02}:{:02}.{:06} {:<12} {:<16} {:>7} {:>7} {:<18} ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (ev.wall_ns / 1000) % 1000000, cont, comm_of(h), h->pid, h->tid, name);
  unsigned nargs = ev.desc ? ev.desc->nargs : CGS_NARGS;
  for (unsigned i = 0; i < nargs && i < CGS_NARGS; i++) {
    if (i) out += ' ';
    if (ev.desc) out += ev.desc->args[i].name;
    else fmt::format_to(it, "arg{}", i);
    out += '=';
    ArgDesc a = ev.desc ? ev.desc->args[i] : ArgDesc{};
    append_table_arg(out, a, h->args[i], ev.rec->vars[i]);
  }
  out += " = ";
  if (!ev.has_ret) out += '?';
  else if (ev.ret < 0 && ev.ret >= -4095 && h->nr < CGS_MAX_SYSCALLS) format_errno(out, ev.ret);
  else append_int(out, ev.ret);
  out += '\n';
}

}  // namespace cgscope::trace
