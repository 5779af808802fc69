// The per-call decoders (decode_*.h), with the values tests/workload/syscall_mix.c
// passed in a real run and the names `strace -f` printed for them (strace 6.1,
// Debian 12), plus the edges: unknown values, unknown bits.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "appended.h"
#include "trace/arg_spec.h"
#include "trace/arg_value.h"
#include "trace/decode_enums.h"
#include "trace/decode_fcntl.h"
#include "trace/decode_ioctl.h"
#include "trace/decode_sock.h"
#include "trace/flags.h"

namespace cgscope::trace {
namespace {

std::string fcntl_ret(uint64_t cmd, int64_t ret) {
  std::string out;
  if (!format_fcntl_ret(out, cmd, ret)) return "(number)";
  return out;
}

TEST(DecodeFcntl, Commands) {
  // strace: fcntl(3, F_GETFL), F_SETFL, F_GETFD, F_SETFD, F_DUPFD_CLOEXEC.
  EXPECT_EQ(fmt(format_fcntl_cmd, 3), "F_GETFL");
  EXPECT_EQ(fmt(format_fcntl_cmd, 4), "F_SETFL");
  EXPECT_EQ(fmt(format_fcntl_cmd, 1), "F_GETFD");
  EXPECT_EQ(fmt(format_fcntl_cmd, 2), "F_SETFD");
  EXPECT_EQ(fmt(format_fcntl_cmd, 1030), "F_DUPFD_CLOEXEC");
  EXPECT_EQ(fmt(format_fcntl_cmd, 0), "F_DUPFD");
  EXPECT_EQ(fmt(format_fcntl_cmd, 5), "F_GETLK");
  EXPECT_EQ(fmt(format_fcntl_cmd, 37), "F_OFD_SETLK");
  EXPECT_EQ(fmt(format_fcntl_cmd, 1033), "F_ADD_SEALS");
  EXPECT_EQ(fmt(format_fcntl_cmd, 9999), "9999");
}

TEST(DecodeFcntl, ArgumentByCommand) {
  // strace: fcntl(3, F_SETFL, O_RDONLY|O_APPEND|O_NONBLOCK), fcntl(3, F_SETFD, FD_CLOEXEC).
  EXPECT_EQ(fmt(format_fcntl_arg, 4, 02000 | 04000), "O_RDONLY|O_APPEND|O_NONBLOCK");
  EXPECT_EQ(fmt(format_fcntl_arg, 2, 1), "FD_CLOEXEC");
  EXPECT_EQ(fmt(format_fcntl_arg, 2, 0), "0");
  EXPECT_EQ(fmt(format_fcntl_arg, 1030, 10), "10");
  EXPECT_EQ(fmt(format_fcntl_arg, 10, 29), "SIGIO");
  EXPECT_EQ(fmt(format_fcntl_arg, 1024, 1), "F_WRLCK");
  EXPECT_EQ(fmt(format_fcntl_arg, 1033, 0x1 | 0x8), "F_SEAL_SEAL|F_SEAL_WRITE");
  EXPECT_EQ(fmt(format_fcntl_arg, 6, 0x7ffc0a6ea178), "0x7ffc0a6ea178");
  EXPECT_EQ(fcntl_arg_kind(1030), FcntlArg::number);
  EXPECT_EQ(fcntl_arg_kind(4), FcntlArg::named);
  EXPECT_EQ(fcntl_arg_kind(3), FcntlArg::none);
  EXPECT_EQ(fcntl_arg_kind(6), FcntlArg::pointer);
}

TEST(DecodeFcntl, ResultByCommand) {
  // strace: F_GETFL = 0x800 (flags O_RDONLY|O_NONBLOCK), F_GETFD = 0x1 (flags FD_CLOEXEC).
  EXPECT_EQ(fcntl_ret(3, 0x800), "O_RDONLY|O_NONBLOCK");
  EXPECT_EQ(fcntl_ret(3, 0x8002), "O_RDWR|O_LARGEFILE");
  EXPECT_EQ(fcntl_ret(3, 02 | 02000), "O_RDWR|O_APPEND");
  EXPECT_EQ(fcntl_ret(1, 1), "FD_CLOEXEC");
  EXPECT_EQ(fcntl_ret(1, 0), "0");
  EXPECT_EQ(fcntl_ret(1025, 2), "F_UNLCK");
  EXPECT_EQ(fcntl_ret(1030, 11), "(number)");  // a new fd
  EXPECT_EQ(fcntl_ret(3, -9), "(number)");     // an error is the errno's
}

TEST(DecodeIoctl, KnownRequests) {
  // strace: ioctl(3, FIONREAD, ...), FIONBIO, FIOCLEX, TCGETS.
  EXPECT_EQ(fmt(format_ioctl_request, 0x541B), "FIONREAD");
  EXPECT_EQ(fmt(format_ioctl_request, 0x5421), "FIONBIO");
  EXPECT_EQ(fmt(format_ioctl_request, 0x5451), "FIOCLEX");
  EXPECT_EQ(fmt(format_ioctl_request, 0x5401), "TCGETS");
  EXPECT_EQ(fmt(format_ioctl_request, 0x5402), "TCSETS");
  EXPECT_EQ(fmt(format_ioctl_request, 0x5404), "TCSETSF");
  EXPECT_EQ(fmt(format_ioctl_request, 0x5413), "TIOCGWINSZ");
  EXPECT_EQ(fmt(format_ioctl_request, 0x5414), "TIOCSWINSZ");
  EXPECT_EQ(fmt(format_ioctl_request, 0x540F), "TIOCGPGRP");
  EXPECT_EQ(fmt(format_ioctl_request, 0x80045430), "TIOCGPTN");
  EXPECT_EQ(fmt(format_ioctl_request, 0x802C542A), "TCGETS2");
  // The register's upper half is not part of the request (an unsigned int).
  EXPECT_EQ(fmt(format_ioctl_request, 0xffffffff00005401), "TCGETS");
}

TEST(DecodeIoctl, UnknownRequestsDecomposed) {
  EXPECT_EQ(fmt(format_ioctl_request, 0x80044199), "_IOC(_IOC_READ, 0x41, 0x99, 0x4)");
  EXPECT_EQ(fmt(format_ioctl_request, 0x40089401), "_IOC(_IOC_WRITE, 0x94, 0x1, 0x8)");
  EXPECT_EQ(fmt(format_ioctl_request, 0xc0109401), "_IOC(_IOC_READ|_IOC_WRITE, 0x94, 0x1, 0x10)");
  EXPECT_EQ(fmt(format_ioctl_request, 0x5499), "0x5499");  // old style: nothing to decompose
}

TEST(DecodeEnums, FutexOp) {
  // strace: futex(..., FUTEX_WAKE_PRIVATE, 1), FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME.
  EXPECT_EQ(fmt(format_futex_op, 0x81), "FUTEX_WAKE_PRIVATE");
  EXPECT_EQ(fmt(format_futex_op, 0x80), "FUTEX_WAIT_PRIVATE");
  EXPECT_EQ(fmt(format_futex_op, 0), "FUTEX_WAIT");
  EXPECT_EQ(fmt(format_futex_op, 9 | 0x80 | 0x100), "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME");
  EXPECT_EQ(fmt(format_futex_op, 6), "FUTEX_LOCK_PI");
  EXPECT_EQ(fmt(format_futex_op, 0x7e | 0x80), "FUTEX_PRIVATE_FLAG|0x7e");
  // The kernel's command is every bit but the two flags (FUTEX_CMD_MASK): 0x1001
  // is no FUTEX_WAKE with an extra bit but an unknown command (ENOSYS).
  EXPECT_EQ(fmt(format_futex_op, 1 | 0x1000), "0x1001");
  EXPECT_EQ(fmt(format_futex_op, 0x1001 | 0x80), "FUTEX_PRIVATE_FLAG|0x1001");
}

TEST(DecodeEnums, OneTableEnums) {
  EXPECT_EQ(fmt(format_seek_whence, 0), "SEEK_SET");
  EXPECT_EQ(fmt(format_seek_whence, 2), "SEEK_END");
  EXPECT_EQ(fmt(format_seek_whence, 4), "SEEK_HOLE");
  EXPECT_EQ(fmt(format_seek_whence, 7), "7");
  // strace: prlimit64(0, RLIMIT_NOFILE, ...), prlimit64(0, RLIMIT_STACK, ...).
  EXPECT_EQ(fmt(format_rlimit_resource, 7), "RLIMIT_NOFILE");
  EXPECT_EQ(fmt(format_rlimit_resource, 3), "RLIMIT_STACK");
  EXPECT_EQ(fmt(format_rlimit_resource, 15), "RLIMIT_RTTIME");
  EXPECT_EQ(fmt(format_rlimit_resource, 16), "16");
  // strace: rt_sigprocmask(SIG_BLOCK, ...), SIG_SETMASK, SIG_UNBLOCK.
  EXPECT_EQ(fmt(format_sigprocmask_how, 0), "SIG_BLOCK");
  EXPECT_EQ(fmt(format_sigprocmask_how, 1), "SIG_UNBLOCK");
  EXPECT_EQ(fmt(format_sigprocmask_how, 2), "SIG_SETMASK");
  // strace: arch_prctl(ARCH_SET_FS, 0x7f169ee9a740).
  EXPECT_EQ(fmt(format_arch_prctl_option, 0x1002), "ARCH_SET_FS");
  EXPECT_EQ(fmt(format_arch_prctl_option, 0x3001), "0x3001");
}

TEST(DecodeEnums, AccessModeAndMremap) {
  // strace: access("/", F_OK), access("/", R_OK|W_OK), faccessat2(AT_FDCWD, "/", X_OK, 0).
  EXPECT_EQ(fmt(format_access_mode, 0), "F_OK");
  EXPECT_EQ(fmt(format_access_mode, 4 | 2), "R_OK|W_OK");
  EXPECT_EQ(fmt(format_access_mode, 1), "X_OK");
  EXPECT_EQ(fmt(format_access_mode, 7), "R_OK|W_OK|X_OK");
  EXPECT_EQ(fmt(format_access_mode, 8 | 4), "R_OK|0x8");
  // strace: mremap(..., MREMAP_MAYMOVE).
  EXPECT_EQ(fmt(format_mremap_flags, 1), "MREMAP_MAYMOVE");
  EXPECT_EQ(fmt(format_mremap_flags, 3), "MREMAP_MAYMOVE|MREMAP_FIXED");
  EXPECT_EQ(fmt(format_mremap_flags, 0), "0");
}

TEST(DecodeSock, SockoptLevelsAndNames) {
  // strace: setsockopt(3, SOL_SOCKET, SO_REUSEADDR, ...), SOL_TCP TCP_NODELAY,
  // SOL_IP IP_TOS; getsockopt(3, SOL_SOCKET, SO_ERROR, ...).
  EXPECT_EQ(fmt(format_sockopt_level, 1), "SOL_SOCKET");
  EXPECT_EQ(fmt(format_sockopt_level, 6), "SOL_TCP");
  EXPECT_EQ(fmt(format_sockopt_level, 0), "SOL_IP");
  EXPECT_EQ(fmt(format_sockopt_level, 41), "SOL_IPV6");
  EXPECT_EQ(fmt(format_sockopt_level, 270), "SOL_NETLINK");
  EXPECT_EQ(fmt(format_sockopt_level, 9999), "9999");
  EXPECT_EQ(fmt(format_sockopt_name, 1, 2), "SO_REUSEADDR");
  EXPECT_EQ(fmt(format_sockopt_name, 1, 4), "SO_ERROR");
  EXPECT_EQ(fmt(format_sockopt_name, 1, 20), "SO_RCVTIMEO_OLD");
  EXPECT_EQ(fmt(format_sockopt_name, 6, 1), "TCP_NODELAY");
  EXPECT_EQ(fmt(format_sockopt_name, 0, 1), "IP_TOS");
  EXPECT_EQ(fmt(format_sockopt_name, 41, 26), "IPV6_V6ONLY");
  // The same number means something else at each level, and nothing at an unknown one.
  EXPECT_EQ(fmt(format_sockopt_name, 270, 1), "1");
  EXPECT_EQ(fmt(format_sockopt_name, 6, 999), "999");
}

TEST(DecodeSock, MsgAndSockFlags) {
  // strace: sendto(..., MSG_DONTWAIT|MSG_NOSIGNAL, ...), recvfrom(..., MSG_DONTWAIT, ...).
  EXPECT_EQ(fmt(format_msg_flags, 0x40 | 0x4000), "MSG_DONTWAIT|MSG_NOSIGNAL");
  EXPECT_EQ(fmt(format_msg_flags, 0x40), "MSG_DONTWAIT");
  EXPECT_EQ(fmt(format_msg_flags, 0), "0");
  EXPECT_EQ(fmt(format_msg_flags, 0x2 | 0x80000000), "MSG_PEEK|0x80000000");
  EXPECT_EQ(fmt(format_sock_flags, 02000000 | 04000), "SOCK_CLOEXEC|SOCK_NONBLOCK");
  EXPECT_EQ(fmt(format_sock_flags, 0), "0");
  // strace: pipe2([3, 4], O_NONBLOCK|O_CLOEXEC), dup3(4, 20, O_CLOEXEC).
  EXPECT_EQ(fmt(format_fd_flags, 04000 | 02000000), "O_NONBLOCK|O_CLOEXEC");
  EXPECT_EQ(fmt(format_fd_flags, 02000000), "O_CLOEXEC");
  EXPECT_EQ(fmt(format_fd_flags, 0), "0");
}

// Which argument of which call gets which decoder: the kernel's own names.
TEST(DecodeClassify, ArgumentsOfNamedCalls) {
  auto format_of = [](std::string_view sc, std::string_view type, std::string_view name) {
    return classify_arg(sc, type, name, {}).format;
  };
  EXPECT_EQ(format_of("fcntl", "unsigned int", "cmd"), ArgFormat::fcntl_cmd);
  EXPECT_EQ(format_of("fcntl", "unsigned long", "arg"), ArgFormat::fcntl_arg);
  EXPECT_EQ(format_of("ioctl", "unsigned int", "cmd"), ArgFormat::ioctl_request);
  EXPECT_EQ(format_of("ioctl", "unsigned long", "arg"), ArgFormat::hex);
  EXPECT_EQ(format_of("futex", "int", "op"), ArgFormat::futex_op);
  EXPECT_EQ(format_of("lseek", "unsigned int", "whence"), ArgFormat::seek_whence);
  EXPECT_EQ(format_of("prlimit64", "unsigned int", "resource"), ArgFormat::rlimit_resource);
  EXPECT_EQ(format_of("getrlimit", "unsigned int", "resource"), ArgFormat::rlimit_resource);
  EXPECT_EQ(format_of("rt_sigprocmask", "int", "how"), ArgFormat::sigprocmask_how);
  EXPECT_EQ(format_of("arch_prctl", "int", "option"), ArgFormat::arch_prctl_option);
  EXPECT_EQ(format_of("access", "int", "mode"), ArgFormat::access_mode);
  EXPECT_EQ(format_of("faccessat2", "int", "mode"), ArgFormat::access_mode);
  EXPECT_EQ(format_of("faccessat2", "int", "flags"), ArgFormat::at_flags_eaccess);
  EXPECT_EQ(format_of("setsockopt", "int", "level"), ArgFormat::sockopt_level);
  EXPECT_EQ(format_of("getsockopt", "int", "optname"), ArgFormat::sockopt_name);
  EXPECT_EQ(format_of("sendto", "unsigned int", "flags"), ArgFormat::msg_flags);
  EXPECT_EQ(format_of("recvmsg", "unsigned int", "flags"), ArgFormat::msg_flags);
  EXPECT_EQ(format_of("accept4", "int", "flags"), ArgFormat::sock_flags);
  EXPECT_EQ(format_of("pipe2", "int", "flags"), ArgFormat::fd_flags);
  EXPECT_EQ(format_of("dup3", "int", "flags"), ArgFormat::fd_flags);
  EXPECT_EQ(format_of("mremap", "unsigned long", "flags"), ArgFormat::mremap_flags);
  EXPECT_EQ(format_of("kill", "int", "sig"), ArgFormat::signal);
  EXPECT_EQ(format_of("tgkill", "int", "sig"), ArgFormat::signal);
  EXPECT_EQ(context_arg_name(ArgFormat::fcntl_arg), "cmd");
  EXPECT_EQ(context_arg_name(ArgFormat::sockopt_name), "level");
  EXPECT_EQ(classify_ret("mmap"), RetFormat::address);
  EXPECT_EQ(classify_ret("brk"), RetFormat::address);
  EXPECT_EQ(classify_ret("mremap"), RetFormat::address);
  EXPECT_EQ(classify_ret("fcntl"), RetFormat::fcntl);
  EXPECT_EQ(classify_ret("read"), RetFormat::dec);
}

TEST(DecodeClassify, FaccessatTwoFlagsSayEaccess) {
  std::string out;
  append_scalar_text(out, ArgFormat::at_flags_eaccess, 0x200);
  EXPECT_EQ(out, "AT_EACCESS");
  out.clear();
  append_scalar_text(out, ArgFormat::at_flags, 0x200);
  EXPECT_EQ(out, "AT_REMOVEDIR");
}

}  // namespace
}  // namespace cgscope::trace
