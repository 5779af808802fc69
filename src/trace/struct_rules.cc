// The sizes are the x86_64 kernel's user ABI (asm/stat.h, linux/stat.h ...), fixed
// for good; the unit tests check them against the C library's structs.
#include "trace/struct_rules.h"

#include <array>
#include <cstdint>

#include "cgscope/abi/trace.h"

namespace cgscope::trace {
namespace {

enum class Dir : uint8_t {
  in,   // read by the call: shown whatever it returned
  out,  // filled by the call: shown only when it succeeded
};

struct StructRule {
  std::string_view syscall, arg;
  ArgFormat format;
  uint16_t size;
  Dir dir = Dir::in;
  std::string_view count = {};  // an array: the argument holding the count, or "ret"
};

constexpr uint16_t kStat = 144, kStatx = 256, kTimespec = 16, kUtsname = 6 * 65, kSigaction = 32,
                   kEpollEvent = 12, kPollfd = 8, kIovec = 16, kCloneArgs = 88,
                   kSocklen = 4;

constexpr std::array kRules = {
    StructRule{"stat", "statbuf", ArgFormat::stat_struct, kStat, Dir::out},
    StructRule{"lstat", "statbuf", ArgFormat::stat_struct, kStat, Dir::out},
    StructRule{"fstat", "statbuf", ArgFormat::stat_struct, kStat, Dir::out},
    StructRule{"newfstatat", "statbuf", ArgFormat::stat_struct, kStat, Dir::out},
    StructRule{"statx", "buffer", ArgFormat::statx_struct, kStatx, Dir::out},
    StructRule{"wait4", "stat_addr", ArgFormat::wait_status, 4, Dir::out},
    StructRule{"pipe", "fildes", ArgFormat::fd_pair, 8, Dir::out},
    StructRule{"pipe2", "fildes", ArgFormat::fd_pair, 8, Dir::out},
    StructRule{"socketpair", "usockvec", ArgFormat::fd_pair, 8, Dir::out},
    StructRule{"poll", "ufds", ArgFormat::pollfd_array, kPollfd, Dir::in, "nfds"},
    StructRule{"ppoll", "ufds", ArgFormat::pollfd_array, kPollfd, Dir::in, "nfds"},
    StructRule{"readv", "vec", ArgFormat::iovec_array, kIovec, Dir::in, "vlen"},
    StructRule{"writev", "vec", ArgFormat::iovec_array, kIovec, Dir::in, "vlen"},
    StructRule{"preadv", "vec", ArgFormat::iovec_array, kIovec, Dir::in, "vlen"},
    StructRule{"pwritev", "vec", ArgFormat::iovec_array, kIovec, Dir::in, "vlen"},
    StructRule{"preadv2", "vec", ArgFormat::iovec_array, kIovec, Dir::in, "vlen"},
    StructRule{"pwritev2", "vec", ArgFormat::iovec_array, kIovec, Dir::in, "vlen"},
    StructRule{"nanosleep", "rqtp", ArgFormat::timespec, kTimespec},
    StructRule{"clock_nanosleep", "rqtp", ArgFormat::timespec, kTimespec},
    StructRule{"clock_settime", "tp", ArgFormat::timespec, kTimespec},
    StructRule{"clock_gettime", "tp", ArgFormat::timespec, kTimespec, Dir::out},
    StructRule{"clock_getres", "tp", ArgFormat::timespec, kTimespec, Dir::out},
    StructRule{"uname", "name", ArgFormat::utsname, kUtsname, Dir::out},
    StructRule{"rt_sigaction", "act", ArgFormat::sigaction, kSigaction},
    StructRule{"rt_sigaction", "oact", ArgFormat::sigaction, kSigaction, Dir::out},
    StructRule{"epoll_ctl", "event", ArgFormat::epoll_event, kEpollEvent},
    StructRule{"epoll_wait", "events", ArgFormat::epoll_array, kEpollEvent, Dir::out, "ret"},
    StructRule{"epoll_pwait", "events", ArgFormat::epoll_array, kEpollEvent, Dir::out, "ret"},
    StructRule{"epoll_pwait2", "events", ArgFormat::epoll_array, kEpollEvent, Dir::out, "ret"},
    StructRule{"clone3", "uargs", ArgFormat::clone_args, kCloneArgs},
    // Value-result lengths, read at exit: what the call left there (the length
    // it wrote when it succeeded, the one it was given when it failed).
    StructRule{"accept", "upeer_addrlen", ArgFormat::socklen, kSocklen},
    StructRule{"accept4", "upeer_addrlen", ArgFormat::socklen, kSocklen},
    StructRule{"getsockname", "usockaddr_len", ArgFormat::socklen, kSocklen},
    StructRule{"getpeername", "usockaddr_len", ArgFormat::socklen, kSocklen},
    StructRule{"recvfrom", "addr_len", ArgFormat::socklen, kSocklen},
    StructRule{"getsockopt", "optlen", ArgFormat::socklen, kSocklen},
    // A timespec only for the wait ops; for the others the register is a number
    // (val2) that the kernel's read fails on or reads past: user space decides by op.
    StructRule{"futex", "utime", ArgFormat::futex_timeout, kTimespec},
    // Records of their own lengths: ret bytes (elements of one byte), cut at
    // CGS_STRUCT_MAX like every array.
    StructRule{"getdents64", "dirent", ArgFormat::dirent64_array, 1, Dir::out, "ret"},
    // The header and the three buffers it points to (CGS_ARG_MSGHDR,
    // bpf/lib/trace_msghdr.bpf.h); recvmsg's only when the call succeeded.
    StructRule{"sendmsg", "msg", ArgFormat::msghdr, 56},
    StructRule{"recvmsg", "msg", ArgFormat::msghdr, 56, Dir::out},
};

}  // namespace

std::optional<ArgSpec> classify_struct(std::string_view syscall, std::string_view name,
                                       std::span<const std::string_view> names) {
  for (const StructRule& r : kRules) {
    if (r.syscall != syscall || r.arg != name) continue;
    if (r.count.empty()) {
      uint8_t nib = r.dir == Dir::out ? CGS_STRUCT_OUT : 0;
      uint8_t kind = r.format == ArgFormat::msghdr ? CGS_ARG_MSGHDR : CGS_ARG_STRUCT;
      return ArgSpec{CGS_KIND_BYTE(kind, nib), r.format, r.size};
    }
    size_t count = CGS_COUNT_RET;
    if (r.count != "ret") {
      count = CGS_NARGS;
      for (size_t i = 0; i < names.size() && i < CGS_NARGS; i++)
        if (names[i] == r.count) count = i;
      if (count == CGS_NARGS) return std::nullopt;  // a kernel that renamed it: a pointer
    }
    return ArgSpec{CGS_KIND_BYTE(CGS_ARG_ARRAY, count), r.format, r.size};
  }
  return std::nullopt;
}

}  // namespace cgscope::trace
