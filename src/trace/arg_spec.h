// How each syscall argument is captured by the kernel side and shown by the
// decoder, decided once per argument from the kernel's own tracefs description of
// the syscall (`field:<type> <name>;` in events/syscalls/sys_enter_*/format).
// The syscall table generator runs this over every syscall; the decoder looks the
// result up per event.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace cgscope::trace {

enum class ArgFormat : uint8_t {
  signed_dec,
  unsigned_dec,
  hex,
  fd,
  dirfd,  // AT_FDCWD shown as "AT_FDCWD"
  mode_octal,
  open_flags,
  at_flags,
  mmap_prot,
  mmap_flags,
  clone_flags,
  signal,
  socket_domain,
  socket_type,
  string,
  string_array,
  sockaddr,
  buffer,
  pointer,
  tcp_state,    // TCP_ESTABLISHED... by name (tcp_states.h)
  tcp_context,  // who made a TCP transition (or sent a UDP datagram): "task" or "softirq"
  udp_dir,      // which way a UDP pair's first datagram went: "send" or "recv"
  // Enums and flag words of particular calls (decode_*.h):
  at_flags_eaccess,   // faccessat2's AT_* flags, where 0x200 is AT_EACCESS
  fd_flags,           // pipe2/dup3: O_CLOEXEC|O_NONBLOCK..., no access mode
  fcntl_cmd,
  fcntl_arg,          // read by the value of the "cmd" argument
  ioctl_request,
  futex_op,
  seek_whence,
  rlimit_resource,
  sigprocmask_how,
  arch_prctl_option,
  access_mode,
  sockopt_level,
  sockopt_name,       // read by the value of the "level" argument
  msg_flags,
  sock_flags,         // accept4: SOCK_CLOEXEC|SOCK_NONBLOCK
  mremap_flags,
  // Structs the kernel copies (CGS_ARG_STRUCT/ARRAY, struct_rules.h), decoded
  // by decode_struct.h:
  stat_struct,     // struct stat
  statx_struct,    // struct statx
  wait_status,     // int *: WIFEXITED(s) && ...
  fd_pair,         // int[2]: pipe, socketpair
  pollfd_array,    // struct pollfd[nfds]
  iovec_array,     // struct iovec[vlen]
  timespec,        // struct __kernel_timespec
  utsname,         // struct new_utsname
  sigaction,       // the kernel's struct sigaction
  epoll_event,     // one struct epoll_event
  epoll_array,     // struct epoll_event[ret]
  clone_args,      // struct clone_args
  socklen,         // int *: a sockaddr's or an option's length, "[16]" (value-result)
  futex_timeout,   // futex's utime: a timespec for the wait ops, val2 for the others
  dirent64_array,  // getdents64's linux_dirent64 records, ret bytes of them
  msghdr,          // sendmsg/recvmsg's struct msghdr with its name, iovecs and control
                   // data (CGS_ARG_MSGHDR, decode_msghdr.cc)
  // select/pselect6's arguments as the call was given them, from the call's
  // CGS_ARG_SELECT section (decode_select.cc): the three fd sets, the timeout.
  fd_set_read,
  fd_set_write,
  fd_set_except,
  select_timeval,   // select's struct timeval
  select_timespec,  // pselect6's struct timespec
};

// How a syscall's return value reads, when it succeeded (an error is always
// "-2 (ENOENT)").
enum class RetFormat : uint8_t {
  dec,      // a count, an fd, a pid
  address,  // mmap, mremap, brk, shmat: hex
  fcntl,    // by fcntl's command: flags for F_GETFL, F_GETFD ..., else decimal
  select,   // select/pselect6: the count, then the ready sets and the time left
};

struct ArgSpec {
  uint8_t kind_byte;  // CGS_KIND_BYTE(kind, len_arg) for the kernel (include/cgscope/abi/trace.h)
  ArgFormat format;
  uint16_t struct_size = 0;  // CGS_ARG_STRUCT/ARRAY: bytes of the struct (an element)
};

// `syscall` is the tracefs name without the sys_enter_ prefix ("openat",
// "newfstatat"); `type` and `name` are one argument's, as tracefs spells them
// ("const char *", "filename"); `all_arg_names` are the names of all of that
// syscall's arguments in order, `name` among them, used to find the argument that
// holds a buffer's or a sockaddr's length. Anything unrecognised falls back to a
// raw value shown by its C type: pointers in hex, integers in decimal.
ArgSpec classify_arg(std::string_view syscall, std::string_view type, std::string_view name,
                     std::span<const std::string_view> all_arg_names);

// The argument whose value a format is read by ("cmd" for fcntl_arg, "level"
// for sockopt_name), or empty for a format that stands alone.
std::string_view context_arg_name(ArgFormat f);

// How `syscall`'s successful return value reads.
RetFormat classify_ret(std::string_view syscall);

// Short name of a format ("open_flags"), for the generated table and messages.
std::string_view arg_format_name(ArgFormat f);

}  // namespace cgscope::trace
