#include "trace/arg_value.h"

#include <fmt/format.h>

#include "trace/decode_enums.h"
#include "trace/decode_fcntl.h"
#include "trace/decode_ioctl.h"
#include "trace/decode_sock.h"
#include "trace/decode_struct.h"
#include "trace/flags.h"
#include "trace/iov_data.h"
#include "trace/schema.h"
#include "trace/tcp_states.h"

namespace cgscope::trace {
namespace {

constexpr int64_t kAtFdcwd = -100;

template <class T>
void append_dec(std::string& out, T v) {
  fmt::format_int f(v);
  out.append(f.data(), f.size());
}

void append_hex(std::string& out, uint64_t v) {
  char buf[24];
  auto end = fmt::format_to(buf, "0x{:x}", v);
  out.append(buf, end);
}

bool is_pointer_data(ArgFormat f) {
  return f == ArgFormat::string || f == ArgFormat::string_array || f == ArgFormat::sockaddr ||
         f == ArgFormat::buffer || is_struct_format(f);
}

// A JSON number, not a string: fcntl's argument is one when its command takes a
// count or an fd (F_DUPFD), flags otherwise.
bool is_number(ArgFormat f, uint64_t ctx) {
  return f == ArgFormat::signed_dec || f == ArgFormat::unsigned_dec || f == ArgFormat::fd ||
         (f == ArgFormat::fcntl_arg && fcntl_arg_kind(ctx) == FcntlArg::number);
}

std::string_view bytes_of(const VarSection& var) {
  return {reinterpret_cast<const char*>(var.data.data()), var.data.size()};
}

}  // namespace

ArgValue arg_value(const ArgDesc& a, uint64_t raw, const VarSection& var, uint64_t ctx, int64_t ret) {
  ArgValue v;
  v.raw = raw;
  v.ctx = ctx;
  v.format = a.format;
  // futex's utime is a timespec for the wait ops only; for the others the
  // register is val2 (a u32), whatever the kernel's read of it found.
  if (a.format == ArgFormat::futex_timeout && !futex_op_has_timeout(ctx)) {
    v.raw = static_cast<uint32_t>(raw);
    v.format = ArgFormat::unsigned_dec;
    v.kind = ArgValue::Kind::number;
    return v;
  }
  if (var.present) {
    switch (var.kind) {
      case CGS_ARG_STR:
        if (var.fault()) return ArgValue{};
        return ArgValue::text(var.str(), var.truncated());
      case CGS_ARG_BUF:
        return ArgValue::text(bytes_of(var), var.truncated());
      case CGS_ARG_STRARR:
        v.kind = ArgValue::Kind::strings;
        v.var = &var;
        return v;
      case CGS_ARG_SOCKADDR:
      case CGS_ARG_SOCKADDR_PLEN:
        v.kind = ArgValue::Kind::sockaddr;
        v.var = &var;
        return v;
      case CGS_ARG_STRUCT:
      case CGS_ARG_ARRAY:
      case CGS_ARG_MSGHDR:
        if (var.fault() || !is_struct_format(a.format)) break;  // the address, as strace shows it
        v.kind = ArgValue::Kind::structure;
        v.var = &var;
        v.ctx = static_cast<uint64_t>(ret);
        return v;
      default:
        break;
    }
  }
  if (is_pointer_data(a.format)) {
    if (raw == 0) return ArgValue{};
    v.format = ArgFormat::pointer;  // not captured: the address
  }
  // A NULL address is NULL (JSON null), as strace shows it.
  if (v.format == ArgFormat::pointer && raw == 0) return ArgValue{};
  // A dirfd is a number like any fd, but for AT_FDCWD, which has a name.
  if (v.format == ArgFormat::dirfd && static_cast<int32_t>(raw) != kAtFdcwd) v.format = ArgFormat::fd;
  v.kind = is_number(v.format, ctx) ? ArgValue::Kind::number : ArgValue::Kind::scalar;
  return v;
}

void attach_call_section(ArgValue& v, const ArgDesc& a, uint64_t raw, const VarSection& call, int64_t ret) {
  if (call.kind == CGS_ARG_IOVDATA) {
    if (v.kind == ArgValue::Kind::structure) v.iov = &call;
    return;
  }
  bool select_arg = a.format == ArgFormat::fd_set_read || a.format == ArgFormat::fd_set_write ||
                    a.format == ArgFormat::fd_set_except || a.format == ArgFormat::select_timeval ||
                    a.format == ArgFormat::select_timespec;
  if (call.kind != CGS_ARG_SELECT || !select_arg || raw == 0) return;
  v.kind = ArgValue::Kind::structure;  // the address again, should the section not hold it
  v.format = a.format;
  v.raw = raw;
  v.var = &call;
  v.ctx = static_cast<uint64_t>(ret);
}

void append_struct_value(std::string& out, const ArgValue& v, bool json) {
  StructOut o(out, json);
  IovData iov = v.iov ? IovData(v.iov->data) : IovData();
  if (decode_struct(o, v.format, v.var->data, static_cast<int64_t>(v.ctx), v.var->truncated(), &iov)) return;
  if (json) out += '"';
  append_hex(out, v.raw);
  if (json) out += '"';
}

void append_scalar_text(std::string& out, ArgFormat f, uint64_t v, uint64_t ctx) {
  switch (f) {
    case ArgFormat::signed_dec: append_dec(out, static_cast<int64_t>(v)); break;
    case ArgFormat::unsigned_dec: append_dec(out, v); break;
    case ArgFormat::fd: append_dec(out, static_cast<int32_t>(v)); break;
    case ArgFormat::dirfd:
      if (static_cast<int32_t>(v) == kAtFdcwd) out += "AT_FDCWD";
      else append_dec(out, static_cast<int32_t>(v));
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
    case ArgFormat::tcp_state: format_tcp_state(out, v); break;
    case ArgFormat::tcp_context: format_tcp_context(out, v); break;
    case ArgFormat::udp_dir: format_udp_dir(out, v); break;
    case ArgFormat::at_flags_eaccess: format_at_flags(out, v, "faccessat2"); break;
    case ArgFormat::fd_flags: format_fd_flags(out, v); break;
    case ArgFormat::fcntl_cmd: format_fcntl_cmd(out, v); break;
    case ArgFormat::fcntl_arg: format_fcntl_arg(out, ctx, v); break;
    case ArgFormat::ioctl_request: format_ioctl_request(out, v); break;
    case ArgFormat::futex_op: format_futex_op(out, v); break;
    case ArgFormat::seek_whence: format_seek_whence(out, v); break;
    case ArgFormat::rlimit_resource: format_rlimit_resource(out, v); break;
    case ArgFormat::sigprocmask_how: format_sigprocmask_how(out, v); break;
    case ArgFormat::arch_prctl_option: format_arch_prctl_option(out, v); break;
    case ArgFormat::access_mode: format_access_mode(out, v); break;
    case ArgFormat::sockopt_level: format_sockopt_level(out, v); break;
    case ArgFormat::sockopt_name: format_sockopt_name(out, ctx, v); break;
    case ArgFormat::msg_flags: format_msg_flags(out, v); break;
    case ArgFormat::sock_flags: format_sock_flags(out, v); break;
    case ArgFormat::mremap_flags: format_mremap_flags(out, v); break;
    default: append_hex(out, v); break;
  }
}

}  // namespace cgscope::trace
