// Name tables are built from the C library's own macros (NAMED(x) gives the value
// and its spelling), so the values are those of the headers of the architecture we
// are built for, which is the architecture whose syscalls we decode. Constants the
// Debian 12 headers lack are defined below with the kernel UAPI value.
#include "trace/flags.h"

#include "trace/named.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstddef>

namespace cgscope::trace {
namespace {

using namespace named;

// Missing from glibc 2.36's <sched.h>; values from <linux/sched.h>.
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED 0x4000000
#endif
#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif

// glibc defines O_LARGEFILE as 0 on 64-bit targets (it is implied there), but the
// kernel has a real bit for it that programs may still pass.
#if defined(__x86_64__) || defined(__i386__)
constexpr uint64_t kLargefile = 0100000;
#elif defined(__aarch64__)
constexpr uint64_t kLargefile = 0400000;
#else
constexpr uint64_t kLargefile = O_LARGEFILE;  // 0 here means: no entry (skipped)
#endif

constexpr std::array kOpenBits = {
    NAMED(O_CREAT),     NAMED(O_EXCL),      NAMED(O_NOCTTY),    NAMED(O_TRUNC),   NAMED(O_APPEND),
    NAMED(O_NONBLOCK),  NAMED(O_SYNC),      NAMED(O_DSYNC),     NAMED(O_ASYNC),   NAMED(O_DIRECT),
    Named{kLargefile, "O_LARGEFILE"},       NAMED(O_TMPFILE),   NAMED(O_DIRECTORY), NAMED(O_NOFOLLOW),
    NAMED(O_NOATIME),   NAMED(O_CLOEXEC),   NAMED(O_PATH),
};

// After AT_SYMLINK_NOFOLLOW (0x100) and 0x200, which format_at_flags handles
// itself because AT_REMOVEDIR and AT_EACCESS share it.
constexpr std::array kAtBits = {
    NAMED(AT_SYMLINK_FOLLOW),   NAMED(AT_NO_AUTOMOUNT),     NAMED(AT_EMPTY_PATH),
    NAMED(AT_STATX_FORCE_SYNC), NAMED(AT_STATX_DONT_SYNC), NAMED(AT_RECURSIVE),
};
static_assert(AT_REMOVEDIR == AT_EACCESS, "the two names share one bit on Linux");

constexpr std::array kProtBits = {
    NAMED(PROT_READ), NAMED(PROT_WRITE), NAMED(PROT_EXEC), NAMED(PROT_SEM), NAMED(PROT_GROWSDOWN),
    NAMED(PROT_GROWSUP),
};

constexpr std::array kMapTypes = {
    NAMED(MAP_SHARED), NAMED(MAP_PRIVATE), NAMED(MAP_SHARED_VALIDATE),
};
constexpr std::array kMapBits = {
    NAMED(MAP_FIXED),     NAMED(MAP_ANONYMOUS),  NAMED(MAP_32BIT),      NAMED(MAP_GROWSDOWN),
    NAMED(MAP_DENYWRITE), NAMED(MAP_EXECUTABLE), NAMED(MAP_LOCKED),     NAMED(MAP_NORESERVE),
    NAMED(MAP_POPULATE),  NAMED(MAP_NONBLOCK),   NAMED(MAP_STACK),      NAMED(MAP_HUGETLB),
    NAMED(MAP_SYNC),      NAMED(MAP_FIXED_NOREPLACE),
};

constexpr uint64_t kCloneSignalMask = 0xff;  // CSIGNAL
constexpr std::array kCloneBits = {
    NAMED(CLONE_VM),           NAMED(CLONE_FS),             NAMED(CLONE_FILES),        NAMED(CLONE_SIGHAND),
    NAMED(CLONE_PIDFD),        NAMED(CLONE_PTRACE),         NAMED(CLONE_VFORK),        NAMED(CLONE_PARENT),
    NAMED(CLONE_THREAD),       NAMED(CLONE_NEWNS),          NAMED(CLONE_SYSVSEM),      NAMED(CLONE_SETTLS),
    NAMED(CLONE_PARENT_SETTID), NAMED(CLONE_CHILD_CLEARTID), NAMED(CLONE_DETACHED),    NAMED(CLONE_UNTRACED),
    NAMED(CLONE_CHILD_SETTID), NAMED(CLONE_NEWCGROUP),      NAMED(CLONE_NEWUTS),       NAMED(CLONE_NEWIPC),
    NAMED(CLONE_NEWUSER),      NAMED(CLONE_NEWPID),         NAMED(CLONE_NEWNET),       NAMED(CLONE_IO),
    NAMED(CLONE_CLEAR_SIGHAND), NAMED(CLONE_INTO_CGROUP),
};

constexpr int kSockTypeMask = 0xf;  // SOCK_TYPE_MASK in the kernel
constexpr std::array kSockTypes = {
    NAMED(SOCK_STREAM), NAMED(SOCK_DGRAM),     NAMED(SOCK_RAW),    NAMED(SOCK_RDM),
    NAMED(SOCK_SEQPACKET), NAMED(SOCK_DCCP), NAMED(SOCK_PACKET),
};
constexpr std::array kSockTypeBits = {NAMED(SOCK_NONBLOCK), NAMED(SOCK_CLOEXEC)};

// Index = value. The gaps (41, 58) stay empty.
constexpr int kErrnoMax = 133;
constexpr auto kErrnoNames = [] {
  std::array<std::string_view, kErrnoMax + 1> t{};
  for (const Named& e : {
           NAMED(EPERM),        NAMED(ENOENT),       NAMED(ESRCH),           NAMED(EINTR),
           NAMED(EIO),          NAMED(ENXIO),        NAMED(E2BIG),           NAMED(ENOEXEC),
           NAMED(EBADF),        NAMED(ECHILD),       NAMED(EAGAIN),          NAMED(ENOMEM),
           NAMED(EACCES),       NAMED(EFAULT),       NAMED(ENOTBLK),         NAMED(EBUSY),
           NAMED(EEXIST),       NAMED(EXDEV),        NAMED(ENODEV),          NAMED(ENOTDIR),
           NAMED(EISDIR),       NAMED(EINVAL),       NAMED(ENFILE),          NAMED(EMFILE),
           NAMED(ENOTTY),       NAMED(ETXTBSY),      NAMED(EFBIG),           NAMED(ENOSPC),
           NAMED(ESPIPE),       NAMED(EROFS),        NAMED(EMLINK),          NAMED(EPIPE),
           NAMED(EDOM),         NAMED(ERANGE),       NAMED(EDEADLK),         NAMED(ENAMETOOLONG),
           NAMED(ENOLCK),       NAMED(ENOSYS),       NAMED(ENOTEMPTY),       NAMED(ELOOP),
           NAMED(ENOMSG),       NAMED(EIDRM),        NAMED(ECHRNG),          NAMED(EL2NSYNC),
           NAMED(EL3HLT),       NAMED(EL3RST),       NAMED(ELNRNG),          NAMED(EUNATCH),
           NAMED(ENOCSI),       NAMED(EL2HLT),       NAMED(EBADE),           NAMED(EBADR),
           NAMED(EXFULL),       NAMED(ENOANO),       NAMED(EBADRQC),         NAMED(EBADSLT),
           NAMED(EBFONT),       NAMED(ENOSTR),       NAMED(ENODATA),         NAMED(ETIME),
           NAMED(ENOSR),        NAMED(ENONET),       NAMED(ENOPKG),          NAMED(EREMOTE),
           NAMED(ENOLINK),      NAMED(EADV),         NAMED(ESRMNT),          NAMED(ECOMM),
           NAMED(EPROTO),       NAMED(EMULTIHOP),    NAMED(EDOTDOT),         NAMED(EBADMSG),
           NAMED(EOVERFLOW),    NAMED(ENOTUNIQ),     NAMED(EBADFD),          NAMED(EREMCHG),
           NAMED(ELIBACC),      NAMED(ELIBBAD),      NAMED(ELIBSCN),         NAMED(ELIBMAX),
           NAMED(ELIBEXEC),     NAMED(EILSEQ),       NAMED(ERESTART),        NAMED(ESTRPIPE),
           NAMED(EUSERS),       NAMED(ENOTSOCK),     NAMED(EDESTADDRREQ),    NAMED(EMSGSIZE),
           NAMED(EPROTOTYPE),   NAMED(ENOPROTOOPT),  NAMED(EPROTONOSUPPORT), NAMED(ESOCKTNOSUPPORT),
           NAMED(EOPNOTSUPP),   NAMED(EPFNOSUPPORT), NAMED(EAFNOSUPPORT),    NAMED(EADDRINUSE),
           NAMED(EADDRNOTAVAIL), NAMED(ENETDOWN),    NAMED(ENETUNREACH),     NAMED(ENETRESET),
           NAMED(ECONNABORTED), NAMED(ECONNRESET),   NAMED(ENOBUFS),         NAMED(EISCONN),
           NAMED(ENOTCONN),     NAMED(ESHUTDOWN),    NAMED(ETOOMANYREFS),    NAMED(ETIMEDOUT),
           NAMED(ECONNREFUSED), NAMED(EHOSTDOWN),    NAMED(EHOSTUNREACH),    NAMED(EALREADY),
           NAMED(EINPROGRESS),  NAMED(ESTALE),       NAMED(EUCLEAN),         NAMED(ENOTNAM),
           NAMED(ENAVAIL),      NAMED(EISNAM),       NAMED(EREMOTEIO),       NAMED(EDQUOT),
           NAMED(ENOMEDIUM),    NAMED(EMEDIUMTYPE),  NAMED(ECANCELED),       NAMED(ENOKEY),
           NAMED(EKEYEXPIRED),  NAMED(EKEYREVOKED),  NAMED(EKEYREJECTED),    NAMED(EOWNERDEAD),
           NAMED(ENOTRECOVERABLE), NAMED(ERFKILL),   NAMED(EHWPOISON),
       }) {
    t[e.value] = e.name;
  }
  return t;
}();

// Kernel-internal restart codes: never returned to a program, but a sys_exit
// tracepoint sees them when a signal interrupts a syscall. Not in the UAPI headers;
// values from the kernel's include/linux/errno.h.
constexpr std::array kRestartErrnos = {
    Named{512, "ERESTARTSYS"},   Named{513, "ERESTARTNOINTR"},         Named{514, "ERESTARTNOHAND"},
    Named{515, "ENOIOCTLCMD"},   Named{516, "ERESTART_RESTARTBLOCK"}, Named{524, "ENOTSUPP"},
};

constexpr int kSigRtMin = 32;  // the kernel's; glibc's SIGRTMIN() is higher (it keeps two)
constexpr int kSigMax = 64;    // _NSIG
constexpr auto kSignalNames = [] {
  std::array<std::string_view, kSigRtMin> t{};
  for (const Named& e : {
           NAMED(SIGHUP),  NAMED(SIGINT),    NAMED(SIGQUIT), NAMED(SIGILL),  NAMED(SIGTRAP), NAMED(SIGABRT),
           NAMED(SIGBUS),  NAMED(SIGFPE),    NAMED(SIGKILL), NAMED(SIGUSR1), NAMED(SIGSEGV), NAMED(SIGUSR2),
           NAMED(SIGPIPE), NAMED(SIGALRM),   NAMED(SIGTERM), NAMED(SIGSTKFLT), NAMED(SIGCHLD), NAMED(SIGCONT),
           NAMED(SIGSTOP), NAMED(SIGTSTP),   NAMED(SIGTTIN), NAMED(SIGTTOU), NAMED(SIGURG),  NAMED(SIGXCPU),
           NAMED(SIGXFSZ), NAMED(SIGVTALRM), NAMED(SIGPROF), NAMED(SIGWINCH), NAMED(SIGIO),  NAMED(SIGPWR),
           NAMED(SIGSYS),
       }) {
    t[e.value] = e.name;
  }
  return t;
}();

// "SIGRTMIN", "SIGRTMIN+1" ... "SIGRTMIN+31", "SIGRTMAX": built once at compile time
// so signal_name can hand out views of them.
struct RtName {
  char text[12];
  uint8_t len;
};
constexpr auto kRtNames = [] {
  std::array<RtName, kSigMax - kSigRtMin + 1> t{};
  constexpr std::string_view base = "SIGRTMIN";
  constexpr std::string_view max = "SIGRTMAX";
  for (int i = 0; i <= kSigMax - kSigRtMin; ++i) {
    RtName& r = t[i];
    std::string_view head = i == kSigMax - kSigRtMin ? max : base;
    uint8_t n = 0;
    for (char c : head) r.text[n++] = c;
    if (i > 0 && i < kSigMax - kSigRtMin) {
      r.text[n++] = '+';
      if (i >= 10) r.text[n++] = static_cast<char>('0' + i / 10);
      r.text[n++] = static_cast<char>('0' + i % 10);
    }
    r.len = n;
  }
  return t;
}();

constexpr auto kDomainNames = [] {
  std::array<std::string_view, 46> t{};
  for (const Named& e : {
           NAMED(AF_UNSPEC),  NAMED(AF_UNIX),     NAMED(AF_INET),      NAMED(AF_AX25),      NAMED(AF_IPX),
           NAMED(AF_APPLETALK), NAMED(AF_NETROM), NAMED(AF_BRIDGE),    NAMED(AF_ATMPVC),    NAMED(AF_X25),
           NAMED(AF_INET6),   NAMED(AF_ROSE),     NAMED(AF_DECnet),    NAMED(AF_NETBEUI),   NAMED(AF_SECURITY),
           NAMED(AF_KEY),     NAMED(AF_NETLINK),  NAMED(AF_PACKET),    NAMED(AF_ASH),       NAMED(AF_ECONET),
           NAMED(AF_ATMSVC),  NAMED(AF_RDS),      NAMED(AF_SNA),       NAMED(AF_IRDA),      NAMED(AF_PPPOX),
           NAMED(AF_WANPIPE), NAMED(AF_LLC),      NAMED(AF_IB),        NAMED(AF_MPLS),      NAMED(AF_CAN),
           NAMED(AF_TIPC),    NAMED(AF_BLUETOOTH), NAMED(AF_IUCV),     NAMED(AF_RXRPC),     NAMED(AF_ISDN),
           NAMED(AF_PHONET),  NAMED(AF_IEEE802154), NAMED(AF_CAIF),    NAMED(AF_ALG),       NAMED(AF_NFC),
           NAMED(AF_VSOCK),   NAMED(AF_KCM),      NAMED(AF_QIPCRTR),   NAMED(AF_SMC),       NAMED(AF_XDP),
           NAMED(AF_MCTP),
       }) {
    t[e.value] = e.name;
  }
  return t;
}();

}  // namespace

void format_open_flags(std::string& out, uint64_t v) {
  static constexpr std::array<std::string_view, 4> kAccess = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
  out += kAccess[v & O_ACCMODE];
  uint64_t rest = v & ~static_cast<uint64_t>(O_ACCMODE);
  bool first = false;
  append_bits(out, rest, first, kOpenBits);
  append_rest(out, rest, first);
}

void format_fd_flags(std::string& out, uint64_t v) { append_flags(out, v, kOpenBits); }

void format_at_flags(std::string& out, uint64_t v, std::string_view syscall) {
  if (v == 0) {
    out += '0';
    return;
  }
  uint64_t rest = v;
  bool first = true;
  if (rest & AT_SYMLINK_NOFOLLOW) {
    append_sep(out, first);
    out += "AT_SYMLINK_NOFOLLOW";
    rest &= ~static_cast<uint64_t>(AT_SYMLINK_NOFOLLOW);
  }
  if (rest & AT_REMOVEDIR) {
    append_sep(out, first);
    bool access = syscall.substr(0, 9) == "faccessat";
    out += access ? "AT_EACCESS" : "AT_REMOVEDIR";
    rest &= ~static_cast<uint64_t>(AT_REMOVEDIR);
  }
  append_bits(out, rest, first, kAtBits);
  append_rest(out, rest, first);
}

void format_mmap_prot(std::string& out, uint64_t v) {
  if (v == 0) {
    out += "PROT_NONE";
    return;
  }
  uint64_t rest = v;
  bool first = true;
  append_bits(out, rest, first, kProtBits);
  append_rest(out, rest, first);
}

void format_mmap_flags(std::string& out, uint64_t v) {
  if (v == 0) {
    out += '0';
    return;
  }
  uint64_t rest = v;
  bool first = true;
  uint64_t type = rest & MAP_TYPE;
  for (const Named& t : kMapTypes) {
    if (type == t.value) {
      append_sep(out, first);
      out += t.name;
      rest &= ~static_cast<uint64_t>(MAP_TYPE);
    }
  }
  append_bits(out, rest, first, kMapBits);
  // The bits above MAP_HUGE_SHIFT hold log2 of the huge page size, but only with
  // MAP_HUGETLB; without it, the lowest of them is MAP_UNINITIALIZED.
  constexpr uint64_t huge_mask = static_cast<uint64_t>(MAP_HUGE_MASK) << MAP_HUGE_SHIFT;
  if ((v & MAP_HUGETLB) && (rest & huge_mask)) {
    uint64_t log2 = (rest & huge_mask) >> MAP_HUGE_SHIFT;
    append_sep(out, first);
    if (log2 >= 10 && log2 < 20) {
      out += "MAP_HUGE_";
      append_dec(out, int64_t{1} << (log2 - 10));
      out += "KB";
    } else if (log2 >= 20 && log2 < 30) {
      out += "MAP_HUGE_";
      append_dec(out, int64_t{1} << (log2 - 20));
      out += "MB";
    } else if (log2 >= 30 && log2 < 40) {
      out += "MAP_HUGE_";
      append_dec(out, int64_t{1} << (log2 - 30));
      out += "GB";
    } else {
      append_dec(out, static_cast<int64_t>(log2));
      out += "<<MAP_HUGE_SHIFT";
    }
    rest &= ~huge_mask;
  } else if (rest & MAP_UNINITIALIZED) {
    append_sep(out, first);
    out += "MAP_UNINITIALIZED";
    rest &= ~static_cast<uint64_t>(MAP_UNINITIALIZED);
  }
  append_rest(out, rest, first);
}

void format_clone_flags(std::string& out, uint64_t v) {
  if (v == 0) {
    out += '0';
    return;
  }
  uint64_t rest = v;
  bool first = true;
  // Signal numbers stop at 64, so 0x80 in the low byte cannot be one: it is
  // CLONE_NEWTIME (unshare, setns, clone3).
  uint64_t low = rest & kCloneSignalMask;
  if (low != 0 && low <= static_cast<uint64_t>(kSigMax)) {
    append_sep(out, first);
    format_signal(out, low);
    rest &= ~kCloneSignalMask;
  } else if (low == CLONE_NEWTIME) {
    append_sep(out, first);
    out += "CLONE_NEWTIME";
    rest &= ~kCloneSignalMask;
  }
  append_bits(out, rest, first, kCloneBits);
  append_rest(out, rest, first);
}

std::string_view signal_name(int sig) {
  if (sig > 0 && sig < kSigRtMin) return kSignalNames[sig];
  if (sig >= kSigRtMin && sig <= kSigMax) {
    const RtName& r = kRtNames[sig - kSigRtMin];
    return {r.text, r.len};
  }
  return {};
}

void format_signal(std::string& out, uint64_t v) {
  int sig = static_cast<int32_t>(static_cast<uint32_t>(v));
  std::string_view name = signal_name(sig);
  if (name.empty()) {
    append_dec(out, sig);
  } else {
    out += name;
  }
}

std::string_view socket_domain_name(int domain) {
  if (domain < 0 || static_cast<size_t>(domain) >= kDomainNames.size()) return {};
  return kDomainNames[domain];
}

void format_socket_domain(std::string& out, uint64_t v) {
  int domain = static_cast<int32_t>(static_cast<uint32_t>(v));
  std::string_view name = socket_domain_name(domain);
  if (name.empty()) {
    append_dec(out, domain);
  } else {
    out += name;
  }
}

void format_socket_type(std::string& out, uint64_t v) {
  uint64_t rest = static_cast<uint32_t>(v);  // the kernel's int
  uint64_t type = rest & kSockTypeMask;
  rest &= ~static_cast<uint64_t>(kSockTypeMask);
  bool named = false;
  for (const Named& t : kSockTypes) {
    if (type == t.value) {
      out += t.name;
      named = true;
    }
  }
  if (!named) append_dec(out, static_cast<int64_t>(type));
  bool first = false;
  append_bits(out, rest, first, kSockTypeBits);
  append_rest(out, rest, first);
}

void format_mode(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v, 8);
  out += '0';
  for (ptrdiff_t pad = 3 - (r.ptr - buf); pad > 0; --pad) out += '0';
  out.append(buf, r.ptr);
}

std::string_view errno_name(int err) {
  if (err > 0 && err <= kErrnoMax) return kErrnoNames[err];
  for (const Named& e : kRestartErrnos) {
    if (static_cast<uint64_t>(err) == e.value) return e.name;
  }
  return {};
}

void format_errno(std::string& out, int64_t ret) {
  append_dec(out, ret);
  if (ret < 0 && ret >= -4095) {
    std::string_view name = errno_name(static_cast<int>(-ret));
    if (!name.empty()) {
      out += " (";
      out += name;
      out += ')';
    }
  }
}

}  // namespace cgscope::trace
