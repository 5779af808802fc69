// The rules go from the most specific to the most general: capture kinds the
// kernel must know about (strings, argv, sockaddrs, buffers) first, then display
// formats picked by syscall and argument name, then the C type alone. Names are
// the kernel's parameter names as tracefs shows them, which are stable across
// kernel versions because they are part of the syscall definitions.
#include "trace/arg_spec.h"

#include <array>
#include <cstddef>
#include <optional>
#include <string>

#include "cgscope/abi/trace.h"
#include "trace/struct_rules.h"

namespace cgscope::trace {
namespace {

using namespace std::string_view_literals;

template <size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& set) {
  for (std::string_view e : set) {
    if (s == e) return true;
  }
  return false;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// "const char *const *" -> "char**", "struct sockaddr *" -> "struct sockaddr*",
// "unsigned int" -> "unsigned int": qualifiers dropped, one space between words,
// none around '*', so rules compare one spelling.
std::string canonical_type(std::string_view type) {
  std::string out;
  size_t i = 0;
  while (i < type.size()) {
    char c = type[i];
    if (c == '*') {
      out += '*';
      ++i;
    } else if (is_ident_char(c)) {
      size_t j = i;
      while (j < type.size() && is_ident_char(type[j])) ++j;
      std::string_view word = type.substr(i, j - i);
      if (word != "const" && word != "volatile" && word != "__user") {
        if (!out.empty() && out.back() != '*') out += ' ';
        out += word;
      }
      i = j;
    } else {
      ++i;  // spaces and anything unexpected
    }
  }
  return out;
}

constexpr size_t kNotFound = static_cast<size_t>(-1);

size_t index_of(std::span<const std::string_view> names, std::string_view name) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return i;
  }
  return kNotFound;
}

ArgSpec spec(cgs_arg_kind kind, size_t len_arg, ArgFormat format) {
  return {static_cast<uint8_t>(CGS_KIND_BYTE(kind, len_arg)), format};
}
ArgSpec raw(ArgFormat format) { return spec(CGS_ARG_RAW, 0, format); }

// User memory of known length: (syscall, buffer argument, length argument). The
// kernel captures it only when buffers are asked for; for calls that fill the
// buffer (read, recvfrom, readlink, getxattr) it captures min(ret, len) at exit.
struct BufRule {
  std::string_view syscall, buf, len;
};
constexpr std::array kBufRules = {
    BufRule{"read", "buf", "count"},
    BufRule{"write", "buf", "count"},
    BufRule{"pread64", "buf", "count"},
    BufRule{"pwrite64", "buf", "count"},
    BufRule{"send", "buff", "len"},
    BufRule{"sendto", "buff", "len"},
    BufRule{"recv", "ubuf", "size"},
    BufRule{"recvfrom", "ubuf", "size"},
    BufRule{"readlink", "buf", "bufsiz"},  // not NUL-terminated: only ret bytes are the path
    BufRule{"readlinkat", "buf", "bufsiz"},
    BufRule{"mq_timedsend", "u_msg_ptr", "msg_len"},
    BufRule{"mq_timedreceive", "u_msg_ptr", "msg_len"},
    BufRule{"setxattr", "value", "size"},
    BufRule{"lsetxattr", "value", "size"},
    BufRule{"fsetxattr", "value", "size"},
    BufRule{"getxattr", "value", "size"},
    BufRule{"lgetxattr", "value", "size"},
    BufRule{"fgetxattr", "value", "size"},
    BufRule{"setsockopt", "optval", "optlen"},  // getsockopt's optlen is an int*: not here
    BufRule{"sethostname", "name", "len"},      // not NUL-terminated
    BufRule{"setdomainname", "name", "len"},
    BufRule{"syslog", "buf", "len"},
    BufRule{"getrandom", "ubuf", "len"},
};

// Calls whose sockaddr is filled by the kernel, its length passed through an int*.
constexpr std::array kSockaddrPlenSyscalls = {
    "accept"sv, "accept4"sv, "getsockname"sv, "getpeername"sv, "recvfrom"sv, "recv"sv,
};

// `char *` arguments that are NUL-terminated strings the kernel reads.
constexpr std::array kStringNames = {
    "filename"sv, "pathname"sv,      "path"sv,       "oldname"sv,     "newname"sv,     "name"sv,
    "dev_name"sv, "dir_name"sv,      "type"sv,       "special"sv,     "specialfile"sv, "library"sv,
    "new_root"sv, "put_old"sv,       "uname"sv,      "u_name"sv,      "_fs_name"sv,    "_key"sv,
    "_type"sv,    "_description"sv,  "_callout_info"sv, "from_pathname"sv, "to_pathname"sv,
};

constexpr std::array kFdNames = {
    "fd"sv,    "oldfd"sv, "newfd"sv, "fd_in"sv,  "fd_out"sv, "fdin"sv,  "fdout"sv,       "in_fd"sv,      "out_fd"sv,
    "fildes"sv, "epfd"sv, "ufd"sv,   "pidfd"sv,  "fs_fd"sv,  "mqdes"sv, "fanotify_fd"sv, "ruleset_fd"sv, "group_fd"sv,
};

constexpr std::array kDirfdNames = {"dfd"sv, "olddfd"sv, "newdfd"sv, "from_dfd"sv, "to_dfd"sv, "mountdirfd"sv};

// Calls whose `flags`/`flag` argument holds AT_* bits. ("newfstatat" is the tracefs
// name of fstatat on 64-bit; the others are spellings elsewhere.)
constexpr std::array kAtFlagSyscalls = {
    "newfstatat"sv, "fstatat"sv, "fstatat64"sv,  "unlinkat"sv,          "linkat"sv,        "fchownat"sv,
    "faccessat2"sv, "utimensat"sv, "fchmodat2"sv, "statx"sv,             "execveat"sv,      "name_to_handle_at"sv,
    "mount_setattr"sv,
};

constexpr std::array kOpenFlagSyscalls = {"open"sv, "openat"sv, "open_by_handle_at"sv};

constexpr std::array kMmapSyscalls = {"mmap"sv, "mmap2"sv, "mmap_pgoff"sv, "old_mmap"sv};

// `int mode` arguments that are not permission bits.
constexpr std::array kNonPermModeSyscalls = {
    "access"sv, "faccessat"sv, "faccessat2"sv, "fallocate"sv, "mbind"sv, "set_mempolicy"sv,
};

// Integer arguments that hold user addresses.
constexpr std::array kAddressNames = {"addr"sv, "start"sv, "brk"sv, "new_addr"sv, "newsp"sv, "tls"sv};

// Typedefs of pointers, which show no '*'.
constexpr std::array kPointerTypedefs = {"cap_user_header_t"sv, "cap_user_data_t"sv};

constexpr std::array kUnsignedTypes = {
    "u8"sv,     "u16"sv,   "u32"sv,   "u64"sv,   "__u8"sv,   "__u16"sv,          "__u32"sv,
    "__u64"sv,  "size_t"sv, "umode_t"sv, "uid_t"sv, "gid_t"sv, "qid_t"sv,
    "dev_t"sv,  "__kernel_size_t"sv,
};

// Untyped multipurpose words (prctl's arg2..arg5, ioctl's arg) and opaque handles
// that are addresses (aio contexts): hex reads best whatever they hold.
bool is_opaque_word(std::string_view canon, std::string_view name) {
  bool arg_n = name == "arg" || (name.size() == 4 && name.substr(0, 3) == "arg" && name[3] >= '0' && name[3] <= '9');
  return arg_n || canon == "aio_context_t";
}

bool is_unsigned_type(std::string_view canon) {
  return canon.substr(0, 8) == "unsigned" || one_of(canon, kUnsignedTypes);
}

// Bit masks read best in hex.
bool is_flag_name(std::string_view syscall, std::string_view name) {
  return name == "flags" || name == "flag" || ends_with(name, "_flags") || ends_with(name, "flg") ||
         name == "mask" || ends_with(name, "_mask") || name == "options" || name == "oflag" ||
         (syscall == "ioctl" && name == "cmd") || name == "personality";
}

// The length argument of a sockaddr: the first argument after it named *len
// (addrlen, addr_len, upeer_addrlen, usockaddr_len).
size_t sockaddr_len_arg(std::span<const std::string_view> names, size_t self) {
  size_t from = self == kNotFound ? 0 : self + 1;
  for (size_t i = from; i < names.size(); ++i) {
    if (names[i].find("len") != std::string_view::npos) return i;
  }
  return kNotFound;
}

// select's and pselect6's sets and timeout: raw values whose contents the
// call's own section holds (bpf/lib/trace_select.bpf.h).
std::optional<ArgFormat> select_arg_format(std::string_view syscall, std::string_view name) {
  if (syscall != "select" && syscall != "pselect6") return std::nullopt;
  if (name == "inp") return ArgFormat::fd_set_read;
  if (name == "outp") return ArgFormat::fd_set_write;
  if (name == "exp") return ArgFormat::fd_set_except;
  if (syscall == "select" && name == "tvp") return ArgFormat::select_timeval;
  if (syscall == "pselect6" && name == "tsp") return ArgFormat::select_timespec;
  if (syscall == "pselect6" && name == "sig") return ArgFormat::pointer;  // not a signal: a sigset and its size
  return std::nullopt;
}

std::optional<ArgSpec> classify_capture(std::string_view syscall, std::string_view canon, std::string_view name,
                                        std::span<const std::string_view> names) {
  bool ptr = canon.find('*') != std::string_view::npos;
  if (!ptr) return std::nullopt;
  size_t self = index_of(names, name);
  if (auto s = classify_struct(syscall, name, names)) return *s;
  if (auto f = select_arg_format(syscall, name)) return raw(*f);

  if (canon == "char**") return spec(CGS_ARG_STRARR, 0, ArgFormat::string_array);

  if (canon == "struct sockaddr*") {
    size_t len = sockaddr_len_arg(names, self);
    if (len == kNotFound || len >= CGS_NARGS) return raw(ArgFormat::pointer);
    auto kind = one_of(syscall, kSockaddrPlenSyscalls) ? CGS_ARG_SOCKADDR_PLEN : CGS_ARG_SOCKADDR;
    return spec(kind, len, ArgFormat::sockaddr);
  }

  for (const BufRule& r : kBufRules) {
    if (r.syscall == syscall && r.buf == name) {
      size_t len = index_of(names, r.len);
      if (len == kNotFound || len >= CGS_NARGS) return raw(ArgFormat::pointer);
      return spec(CGS_ARG_BUF, len, ArgFormat::buffer);
    }
  }

  if (canon == "char*") {
    // getcwd fills a NUL-terminated path, read at exit like every argument.
    if (one_of(name, kStringNames) || (syscall == "getcwd" && name == "buf")) {
      return spec(CGS_ARG_STR, 0, ArgFormat::string);
    }
  }
  return raw(ArgFormat::pointer);
}

// Calls whose `flags` are MSG_* bits.
constexpr std::array kMsgFlagSyscalls = {
    "send"sv, "sendto"sv, "sendmsg"sv, "sendmmsg"sv, "recv"sv, "recvfrom"sv, "recvmsg"sv, "recvmmsg"sv,
};

constexpr std::array kRlimitSyscalls = {"getrlimit"sv, "setrlimit"sv, "prlimit64"sv, "ugetrlimit"sv};

constexpr std::array kAccessSyscalls = {"access"sv, "faccessat"sv, "faccessat2"sv};

constexpr std::array kAddressResultSyscalls = {"mmap"sv, "mmap2"sv, "mremap"sv, "brk"sv, "shmat"sv};

// One (syscall, argument) pair that is one enum or flag word (decode_*.h).
struct NamedArgRule {
  std::string_view syscall, name;
  ArgFormat format;
};
constexpr std::array kNamedArgRules = {
    NamedArgRule{"fcntl", "cmd", ArgFormat::fcntl_cmd},
    NamedArgRule{"fcntl", "arg", ArgFormat::fcntl_arg},
    NamedArgRule{"ioctl", "cmd", ArgFormat::ioctl_request},
    NamedArgRule{"futex", "op", ArgFormat::futex_op},
    NamedArgRule{"lseek", "whence", ArgFormat::seek_whence},
    NamedArgRule{"rt_sigprocmask", "how", ArgFormat::sigprocmask_how},
    NamedArgRule{"sigprocmask", "how", ArgFormat::sigprocmask_how},
    NamedArgRule{"arch_prctl", "option", ArgFormat::arch_prctl_option},
    NamedArgRule{"setsockopt", "level", ArgFormat::sockopt_level},
    NamedArgRule{"getsockopt", "level", ArgFormat::sockopt_level},
    NamedArgRule{"setsockopt", "optname", ArgFormat::sockopt_name},
    NamedArgRule{"getsockopt", "optname", ArgFormat::sockopt_name},
    NamedArgRule{"accept4", "flags", ArgFormat::sock_flags},
    NamedArgRule{"pipe2", "flags", ArgFormat::fd_flags},
    NamedArgRule{"dup3", "flags", ArgFormat::fd_flags},
    NamedArgRule{"mremap", "flags", ArgFormat::mremap_flags},
    NamedArgRule{"faccessat2", "flags", ArgFormat::at_flags_eaccess},
};

std::optional<ArgFormat> classify_named(std::string_view syscall, std::string_view name) {
  for (const NamedArgRule& r : kNamedArgRules)
    if (r.syscall == syscall && r.name == name) return r.format;
  if (name == "flags" && one_of(syscall, kMsgFlagSyscalls)) return ArgFormat::msg_flags;
  if (name == "resource" && one_of(syscall, kRlimitSyscalls)) return ArgFormat::rlimit_resource;
  if (name == "mode" && one_of(syscall, kAccessSyscalls)) return ArgFormat::access_mode;
  return std::nullopt;
}

ArgFormat classify_value(std::string_view syscall, std::string_view canon, std::string_view name) {
  if (one_of(canon, kPointerTypedefs)) return ArgFormat::pointer;
  if (auto named = classify_named(syscall, name)) return *named;
  // The tcp_state pseudo event (event_table.cc).
  if (syscall == "tcp_state" && (name == "oldstate" || name == "newstate")) return ArgFormat::tcp_state;
  if ((syscall == "tcp_state" || syscall == "udp_peer" || syscall == "udp_close") && name == "context")
    return ArgFormat::tcp_context;
  if (syscall == "udp_peer" && name == "dir") return ArgFormat::udp_dir;

  if (name == "clone_flags" || name == "unshare_flags" || (syscall == "setns" && name == "flags")) {
    return ArgFormat::clone_flags;
  }
  // rseq's sig is a signature word; "signal" is the lifecycle exit event's field.
  if ((name == "sig" && syscall != "rseq") || name == "signal") return ArgFormat::signal;
  if (syscall == "socket" || syscall == "socketpair") {
    if (name == "family") return ArgFormat::socket_domain;
    if (name == "type") return ArgFormat::socket_type;
  }
  if (name == "prot") return ArgFormat::mmap_prot;
  if (name == "flags" && one_of(syscall, kMmapSyscalls)) return ArgFormat::mmap_flags;
  if ((name == "flags" && one_of(syscall, kOpenFlagSyscalls)) || (syscall == "mq_open" && name == "oflag")) {
    return ArgFormat::open_flags;
  }
  if (name == "at_flags" || ((name == "flags" || name == "flag") && one_of(syscall, kAtFlagSyscalls))) {
    return ArgFormat::at_flags;
  }

  if (one_of(name, kDirfdNames) || (syscall == "execveat" && name == "fd")) return ArgFormat::dirfd;
  if (one_of(name, kFdNames)) return ArgFormat::fd;

  if (canon == "umode_t" || (name == "mode" && !one_of(syscall, kNonPermModeSyscalls)) ||
      (syscall == "umask" && name == "mask")) {
    return ArgFormat::mode_octal;
  }

  if (one_of(name, kAddressNames)) return ArgFormat::pointer;
  if (is_flag_name(syscall, name) || name == "mode" || is_opaque_word(canon, name)) {
    return ArgFormat::hex;
  }
  return is_unsigned_type(canon) ? ArgFormat::unsigned_dec : ArgFormat::signed_dec;
}

}  // namespace

ArgSpec classify_arg(std::string_view syscall, std::string_view type, std::string_view name,
                     std::span<const std::string_view> all_arg_names) {
  std::string canon = canonical_type(type);
  if (auto captured = classify_capture(syscall, canon, name, all_arg_names)) return *captured;
  return raw(classify_value(syscall, canon, name));
}

std::string_view context_arg_name(ArgFormat f) {
  switch (f) {
    case ArgFormat::fcntl_arg: return "cmd";
    case ArgFormat::sockopt_name: return "level";
    case ArgFormat::futex_timeout: return "op";
    default: return {};
  }
}

RetFormat classify_ret(std::string_view syscall) {
  if (one_of(syscall, kAddressResultSyscalls)) return RetFormat::address;
  if (syscall == "fcntl") return RetFormat::fcntl;
  if (syscall == "select" || syscall == "pselect6") return RetFormat::select;
  return RetFormat::dec;
}

std::string_view arg_format_name(ArgFormat f) {
  switch (f) {
    case ArgFormat::signed_dec: return "signed_dec";
    case ArgFormat::unsigned_dec: return "unsigned_dec";
    case ArgFormat::hex: return "hex";
    case ArgFormat::fd: return "fd";
    case ArgFormat::dirfd: return "dirfd";
    case ArgFormat::mode_octal: return "mode_octal";
    case ArgFormat::open_flags: return "open_flags";
    case ArgFormat::at_flags: return "at_flags";
    case ArgFormat::mmap_prot: return "mmap_prot";
    case ArgFormat::mmap_flags: return "mmap_flags";
    case ArgFormat::clone_flags: return "clone_flags";
    case ArgFormat::signal: return "signal";
    case ArgFormat::socket_domain: return "socket_domain";
    case ArgFormat::socket_type: return "socket_type";
    case ArgFormat::string: return "string";
    case ArgFormat::string_array: return "string_array";
    case ArgFormat::sockaddr: return "sockaddr";
    case ArgFormat::buffer: return "buffer";
    case ArgFormat::pointer: return "pointer";
    case ArgFormat::tcp_state: return "tcp_state";
    case ArgFormat::tcp_context: return "tcp_context";
    case ArgFormat::udp_dir: return "udp_dir";
    case ArgFormat::at_flags_eaccess: return "at_flags_eaccess";
    case ArgFormat::fd_flags: return "fd_flags";
    case ArgFormat::fcntl_cmd: return "fcntl_cmd";
    case ArgFormat::fcntl_arg: return "fcntl_arg";
    case ArgFormat::ioctl_request: return "ioctl_request";
    case ArgFormat::futex_op: return "futex_op";
    case ArgFormat::seek_whence: return "seek_whence";
    case ArgFormat::rlimit_resource: return "rlimit_resource";
    case ArgFormat::sigprocmask_how: return "sigprocmask_how";
    case ArgFormat::arch_prctl_option: return "arch_prctl_option";
    case ArgFormat::access_mode: return "access_mode";
    case ArgFormat::sockopt_level: return "sockopt_level";
    case ArgFormat::sockopt_name: return "sockopt_name";
    case ArgFormat::msg_flags: return "msg_flags";
    case ArgFormat::sock_flags: return "sock_flags";
    case ArgFormat::mremap_flags: return "mremap_flags";
    case ArgFormat::stat_struct: return "stat_struct";
    case ArgFormat::statx_struct: return "statx_struct";
    case ArgFormat::wait_status: return "wait_status";
    case ArgFormat::fd_pair: return "fd_pair";
    case ArgFormat::pollfd_array: return "pollfd_array";
    case ArgFormat::iovec_array: return "iovec_array";
    case ArgFormat::timespec: return "timespec";
    case ArgFormat::utsname: return "utsname";
    case ArgFormat::sigaction: return "sigaction";
    case ArgFormat::epoll_event: return "epoll_event";
    case ArgFormat::epoll_array: return "epoll_array";
    case ArgFormat::clone_args: return "clone_args";
    case ArgFormat::socklen: return "socklen";
    case ArgFormat::futex_timeout: return "futex_timeout";
    case ArgFormat::dirent64_array: return "dirent64_array";
    case ArgFormat::msghdr: return "msghdr";
    case ArgFormat::fd_set_read: return "fd_set_read";
    case ArgFormat::fd_set_write: return "fd_set_write";
    case ArgFormat::fd_set_except: return "fd_set_except";
    case ArgFormat::select_timeval: return "select_timeval";
    case ArgFormat::select_timespec: return "select_timespec";
  }
  return "unknown";
}

}  // namespace cgscope::trace
