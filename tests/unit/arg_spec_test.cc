// classify_arg on the argument lists tracefs gives for common syscalls (types and
// names as the kernel spells them in events/syscalls/sys_enter_*/format).
#include "trace/arg_spec.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "cgscope/abi/trace.h"

namespace cgscope::trace {
namespace {

struct Arg {
  std::string_view type, name;
};

// Classifies argument `index` of a syscall described as tracefs does.
ArgSpec classify(std::string_view syscall, const std::vector<Arg>& args, size_t index) {
  std::vector<std::string_view> names;
  for (const Arg& a : args) names.push_back(a.name);
  return classify_arg(syscall, args.at(index).type, args.at(index).name, names);
}

uint8_t kind_of(const ArgSpec& s) { return CGS_KIND(s.kind_byte); }
uint8_t len_of(const ArgSpec& s) { return CGS_LEN_ARG(s.kind_byte); }

void expect_raw(const ArgSpec& s, ArgFormat f) {
  EXPECT_EQ(s.kind_byte, 0) << arg_format_name(s.format);
  EXPECT_EQ(s.format, f) << "got " << arg_format_name(s.format) << ", want " << arg_format_name(f);
}

TEST(ArgSpec, OpenatArguments) {
  std::vector<Arg> a = {{"int", "dfd"}, {"const char *", "filename"}, {"int", "flags"}, {"umode_t", "mode"}};
  expect_raw(classify("openat", a, 0), ArgFormat::dirfd);
  ArgSpec fname = classify("openat", a, 1);
  EXPECT_EQ(fname.kind_byte, CGS_KIND_BYTE(CGS_ARG_STR, 0));
  EXPECT_EQ(fname.format, ArgFormat::string);
  expect_raw(classify("openat", a, 2), ArgFormat::open_flags);
  expect_raw(classify("openat", a, 3), ArgFormat::mode_octal);
}

TEST(ArgSpec, OpenAndCreat) {
  std::vector<Arg> open = {{"const char *", "filename"}, {"int", "flags"}, {"umode_t", "mode"}};
  EXPECT_EQ(kind_of(classify("open", open, 0)), CGS_ARG_STR);
  expect_raw(classify("open", open, 1), ArgFormat::open_flags);
  std::vector<Arg> creat = {{"const char *", "pathname"}, {"umode_t", "mode"}};
  EXPECT_EQ(kind_of(classify("creat", creat, 0)), CGS_ARG_STR);
  expect_raw(classify("creat", creat, 1), ArgFormat::mode_octal);
}

TEST(ArgSpec, FlagsOfOtherSyscallsAreNotOpenFlags) {
  std::vector<Arg> dup3 = {{"unsigned int", "oldfd"}, {"unsigned int", "newfd"}, {"int", "flags"}};
  expect_raw(classify("dup3", dup3, 0), ArgFormat::fd);
  expect_raw(classify("dup3", dup3, 1), ArgFormat::fd);
  expect_raw(classify("dup3", dup3, 2), ArgFormat::fd_flags);  // O_CLOEXEC, no access mode
}

TEST(ArgSpec, ExecveStringsAndArrays) {
  std::vector<Arg> a = {
      {"const char *", "filename"}, {"const char *const *", "argv"}, {"const char *const *", "envp"}};
  EXPECT_EQ(classify("execve", a, 0).kind_byte, CGS_KIND_BYTE(CGS_ARG_STR, 0));
  ArgSpec argv = classify("execve", a, 1);
  EXPECT_EQ(argv.kind_byte, CGS_KIND_BYTE(CGS_ARG_STRARR, 0));
  EXPECT_EQ(argv.format, ArgFormat::string_array);
  EXPECT_EQ(classify("execve", a, 2).format, ArgFormat::string_array);
}

TEST(ArgSpec, ExecveatFdIsADirfdAndFlagsAreAtFlags) {
  std::vector<Arg> a = {{"int", "fd"},
                        {"const char *", "filename"},
                        {"const char *const *", "argv"},
                        {"const char *const *", "envp"},
                        {"int", "flags"}};
  expect_raw(classify("execveat", a, 0), ArgFormat::dirfd);
  expect_raw(classify("execveat", a, 4), ArgFormat::at_flags);
}

TEST(ArgSpec, ConnectSockaddrCarriesItsLengthArgument) {
  std::vector<Arg> a = {{"int", "fd"}, {"struct sockaddr *", "uservaddr"}, {"int", "addrlen"}};
  expect_raw(classify("connect", a, 0), ArgFormat::fd);
  ArgSpec sa = classify("connect", a, 1);
  EXPECT_EQ(sa.kind_byte, CGS_KIND_BYTE(CGS_ARG_SOCKADDR, 2));
  EXPECT_EQ(sa.kind_byte, 0x23);
  EXPECT_EQ(sa.format, ArgFormat::sockaddr);
  expect_raw(classify("connect", a, 2), ArgFormat::signed_dec);
}

TEST(ArgSpec, BindSockaddr) {
  std::vector<Arg> a = {{"int", "fd"}, {"struct sockaddr *", "umyaddr"}, {"int", "addrlen"}};
  EXPECT_EQ(classify("bind", a, 1).kind_byte, CGS_KIND_BYTE(CGS_ARG_SOCKADDR, 2));
}

TEST(ArgSpec, AcceptFamilyUsesLengthPointer) {
  std::vector<Arg> accept4 = {
      {"int", "fd"}, {"struct sockaddr *", "upeer_sockaddr"}, {"int *", "upeer_addrlen"}, {"int", "flags"}};
  ArgSpec sa = classify("accept4", accept4, 1);
  EXPECT_EQ(kind_of(sa), CGS_ARG_SOCKADDR_PLEN);
  EXPECT_EQ(len_of(sa), 2);
  EXPECT_EQ(sa.format, ArgFormat::sockaddr);
  // The length itself is a 4-byte struct read at exit (decoded as "[16]").
  EXPECT_EQ(classify("accept4", accept4, 2).kind_byte, CGS_KIND_BYTE(CGS_ARG_STRUCT, 0));
  EXPECT_EQ(classify("accept4", accept4, 2).format, ArgFormat::socklen);

  std::vector<Arg> gsn = {{"int", "fd"}, {"struct sockaddr *", "usockaddr"}, {"int *", "usockaddr_len"}};
  for (std::string_view sc : {"getsockname", "getpeername", "accept"}) {
    EXPECT_EQ(classify(sc, gsn, 1).kind_byte, CGS_KIND_BYTE(CGS_ARG_SOCKADDR_PLEN, 2)) << sc;
  }
}

TEST(ArgSpec, SendtoBufferAndAddress) {
  std::vector<Arg> a = {{"int", "fd"},           {"void *", "buff"},           {"size_t", "len"},
                        {"unsigned int", "flags"}, {"struct sockaddr *", "addr"}, {"int", "addr_len"}};
  ArgSpec buf = classify("sendto", a, 1);
  EXPECT_EQ(buf.kind_byte, CGS_KIND_BYTE(CGS_ARG_BUF, 2));
  EXPECT_EQ(buf.format, ArgFormat::buffer);
  expect_raw(classify("sendto", a, 2), ArgFormat::unsigned_dec);
  expect_raw(classify("sendto", a, 3), ArgFormat::msg_flags);
  EXPECT_EQ(classify("sendto", a, 4).kind_byte, CGS_KIND_BYTE(CGS_ARG_SOCKADDR, 5));
}

TEST(ArgSpec, RecvfromBufferAndFilledAddress) {
  std::vector<Arg> a = {{"int", "fd"},           {"void *", "ubuf"},           {"size_t", "size"},
                        {"unsigned int", "flags"}, {"struct sockaddr *", "addr"}, {"int *", "addr_len"}};
  EXPECT_EQ(classify("recvfrom", a, 1).kind_byte, CGS_KIND_BYTE(CGS_ARG_BUF, 2));
  EXPECT_EQ(classify("recvfrom", a, 4).kind_byte, CGS_KIND_BYTE(CGS_ARG_SOCKADDR_PLEN, 5));
}

TEST(ArgSpec, ReadWriteBuffers) {
  std::vector<Arg> rw = {{"unsigned int", "fd"}, {"char *", "buf"}, {"size_t", "count"}};
  EXPECT_EQ(classify("read", rw, 1).kind_byte, CGS_KIND_BYTE(CGS_ARG_BUF, 2));
  std::vector<Arg> w = {{"unsigned int", "fd"}, {"const char *", "buf"}, {"size_t", "count"}};
  EXPECT_EQ(classify("write", w, 1).kind_byte, CGS_KIND_BYTE(CGS_ARG_BUF, 2));
  expect_raw(classify("write", w, 0), ArgFormat::fd);
  expect_raw(classify("write", w, 2), ArgFormat::unsigned_dec);
  std::vector<Arg> pw = {{"unsigned int", "fd"}, {"const char *", "buf"}, {"size_t", "count"}, {"loff_t", "pos"}};
  EXPECT_EQ(classify("pwrite64", pw, 1).kind_byte, CGS_KIND_BYTE(CGS_ARG_BUF, 2));
  expect_raw(classify("pwrite64", pw, 3), ArgFormat::signed_dec);
}

TEST(ArgSpec, ReadlinkatResultIsABufferNotAString) {
  // The kernel does not NUL-terminate readlink's result: only ret bytes are valid.
  std::vector<Arg> a = {{"int", "dfd"}, {"const char *", "pathname"}, {"char *", "buf"}, {"int", "bufsiz"}};
  EXPECT_EQ(classify("readlinkat", a, 1).kind_byte, CGS_KIND_BYTE(CGS_ARG_STR, 0));
  EXPECT_EQ(classify("readlinkat", a, 2).kind_byte, CGS_KIND_BYTE(CGS_ARG_BUF, 3));
}

TEST(ArgSpec, GetsockoptValueIsNotABuffer) {
  // Its length is behind an int*, which a BUF capture cannot use.
  std::vector<Arg> a = {{"int", "fd"}, {"int", "level"}, {"int", "optname"}, {"char *", "optval"}, {"int *", "optlen"}};
  expect_raw(classify("getsockopt", a, 3), ArgFormat::pointer);
  std::vector<Arg> s = {{"int", "fd"}, {"int", "level"}, {"int", "optname"}, {"char *", "optval"}, {"int", "optlen"}};
  EXPECT_EQ(classify("setsockopt", s, 3).kind_byte, CGS_KIND_BYTE(CGS_ARG_BUF, 4));
}

TEST(ArgSpec, StringArgumentsByName) {
  std::vector<Arg> mount = {{"char *", "dev_name"}, {"char *", "dir_name"}, {"char *", "type"},
                            {"unsigned long", "flags"}, {"void *", "data"}};
  EXPECT_EQ(kind_of(classify("mount", mount, 0)), CGS_ARG_STR);
  EXPECT_EQ(kind_of(classify("mount", mount, 1)), CGS_ARG_STR);
  EXPECT_EQ(kind_of(classify("mount", mount, 2)), CGS_ARG_STR);
  expect_raw(classify("mount", mount, 3), ArgFormat::hex);
  expect_raw(classify("mount", mount, 4), ArgFormat::pointer);

  std::vector<Arg> rename = {{"int", "olddfd"}, {"const char *", "oldname"}, {"int", "newdfd"}, {"const char *", "newname"}};
  expect_raw(classify("renameat", rename, 0), ArgFormat::dirfd);
  EXPECT_EQ(kind_of(classify("renameat", rename, 1)), CGS_ARG_STR);
  expect_raw(classify("renameat", rename, 2), ArgFormat::dirfd);
  EXPECT_EQ(kind_of(classify("renameat", rename, 3)), CGS_ARG_STR);

  std::vector<Arg> gx = {{"const char *", "pathname"}, {"const char *", "name"}, {"void *", "value"}, {"size_t", "size"}};
  EXPECT_EQ(kind_of(classify("getxattr", gx, 1)), CGS_ARG_STR);
  EXPECT_EQ(classify("getxattr", gx, 2).kind_byte, CGS_KIND_BYTE(CGS_ARG_BUF, 3));

  std::vector<Arg> swapon = {{"const char *", "specialfile"}, {"int", "swap_flags"}};
  EXPECT_EQ(kind_of(classify("swapon", swapon, 0)), CGS_ARG_STR);
  std::vector<Arg> getcwd = {{"char *", "buf"}, {"unsigned long", "size"}};
  EXPECT_EQ(kind_of(classify("getcwd", getcwd, 0)), CGS_ARG_STR);
}

TEST(ArgSpec, UnnamedCharPointersAreNotReadAsStrings) {
  std::vector<Arg> shmdt = {{"char *", "shmaddr"}};
  expect_raw(classify("shmdt", shmdt, 0), ArgFormat::pointer);
  std::vector<Arg> lx = {{"const char *", "pathname"}, {"char *", "list"}, {"size_t", "size"}};
  expect_raw(classify("listxattr", lx, 1), ArgFormat::pointer);
  // A struct named like a string argument is still a struct.
  std::vector<Arg> uname = {{"struct new_utsname *", "name"}};
  expect_raw(classify("newuname", uname, 0), ArgFormat::pointer);
  // sethostname's name is not NUL-terminated: its length is an argument.
  std::vector<Arg> sh = {{"char *", "name"}, {"int", "len"}};
  EXPECT_EQ(classify("sethostname", sh, 0).kind_byte, CGS_KIND_BYTE(CGS_ARG_BUF, 1));
}

TEST(ArgSpec, AtFlagsOfAtSyscalls) {
  std::vector<Arg> fstatat = {
      {"int", "dfd"}, {"const char *", "filename"}, {"struct stat *", "statbuf"}, {"int", "flag"}};
  EXPECT_EQ(classify("newfstatat", fstatat, 2).kind_byte, CGS_KIND_BYTE(CGS_ARG_STRUCT, CGS_STRUCT_OUT));
  EXPECT_EQ(classify("newfstatat", fstatat, 2).format, ArgFormat::stat_struct);
  expect_raw(classify("newfstatat", fstatat, 3), ArgFormat::at_flags);
  std::vector<Arg> unlinkat = {{"int", "dfd"}, {"const char *", "pathname"}, {"int", "flag"}};
  expect_raw(classify("unlinkat", unlinkat, 2), ArgFormat::at_flags);
  std::vector<Arg> linkat = {{"int", "olddfd"}, {"const char *", "oldname"}, {"int", "newdfd"},
                             {"const char *", "newname"}, {"int", "flags"}};
  expect_raw(classify("linkat", linkat, 4), ArgFormat::at_flags);
  std::vector<Arg> fchownat = {{"int", "dfd"}, {"const char *", "filename"}, {"uid_t", "user"},
                               {"gid_t", "group"}, {"int", "flag"}};
  expect_raw(classify("fchownat", fchownat, 2), ArgFormat::unsigned_dec);
  expect_raw(classify("fchownat", fchownat, 4), ArgFormat::at_flags);
  std::vector<Arg> fa2 = {{"int", "dfd"}, {"const char *", "filename"}, {"int", "mode"}, {"int", "flags"}};
  expect_raw(classify("faccessat2", fa2, 2), ArgFormat::access_mode);  // R_OK|W_OK, not permission bits
  expect_raw(classify("faccessat2", fa2, 3), ArgFormat::at_flags_eaccess);
  std::vector<Arg> statx = {{"int", "dfd"}, {"const char *", "filename"}, {"unsigned", "flags"},
                            {"unsigned int", "mask"}, {"struct statx *", "buffer"}};
  expect_raw(classify("statx", statx, 2), ArgFormat::at_flags);
  expect_raw(classify("statx", statx, 3), ArgFormat::hex);
  // renameat2's flags are RENAME_*, not AT_*.
  std::vector<Arg> r2 = {{"int", "olddfd"}, {"const char *", "oldname"}, {"int", "newdfd"},
                         {"const char *", "newname"}, {"unsigned int", "flags"}};
  expect_raw(classify("renameat2", r2, 4), ArgFormat::hex);
}

TEST(ArgSpec, FdArguments) {
  std::vector<Arg> close = {{"unsigned int", "fd"}};
  expect_raw(classify("close", close, 0), ArgFormat::fd);
  std::vector<Arg> cfr = {{"int", "fd_in"}, {"loff_t *", "off_in"}, {"int", "fd_out"}, {"loff_t *", "off_out"},
                          {"size_t", "len"}, {"unsigned int", "flags"}};
  expect_raw(classify("copy_file_range", cfr, 0), ArgFormat::fd);
  expect_raw(classify("copy_file_range", cfr, 1), ArgFormat::pointer);
  expect_raw(classify("copy_file_range", cfr, 2), ArgFormat::fd);
  std::vector<Arg> sf = {{"int", "out_fd"}, {"int", "in_fd"}, {"loff_t *", "offset"}, {"size_t", "count"}};
  expect_raw(classify("sendfile64", sf, 0), ArgFormat::fd);
  expect_raw(classify("sendfile64", sf, 1), ArgFormat::fd);
  // pipe's fildes is where the kernel writes two fds, not an fd.
  std::vector<Arg> pipe = {{"int *", "fildes"}};
  EXPECT_EQ(classify("pipe", pipe, 0).format, ArgFormat::fd_pair);
}

TEST(ArgSpec, MemoryMapping) {
  std::vector<Arg> mmap = {{"unsigned long", "addr"}, {"unsigned long", "len"}, {"unsigned long", "prot"},
                           {"unsigned long", "flags"}, {"unsigned long", "fd"}, {"unsigned long", "off"}};
  expect_raw(classify("mmap", mmap, 0), ArgFormat::pointer);
  expect_raw(classify("mmap", mmap, 1), ArgFormat::unsigned_dec);
  expect_raw(classify("mmap", mmap, 2), ArgFormat::mmap_prot);
  expect_raw(classify("mmap", mmap, 3), ArgFormat::mmap_flags);
  expect_raw(classify("mmap", mmap, 4), ArgFormat::fd);
  std::vector<Arg> mprotect = {{"unsigned long", "start"}, {"size_t", "len"}, {"unsigned long", "prot"}};
  expect_raw(classify("mprotect", mprotect, 0), ArgFormat::pointer);
  expect_raw(classify("mprotect", mprotect, 2), ArgFormat::mmap_prot);
  std::vector<Arg> mremap = {{"unsigned long", "addr"}, {"unsigned long", "old_len"}, {"unsigned long", "new_len"},
                             {"unsigned long", "flags"}, {"unsigned long", "new_addr"}};
  expect_raw(classify("mremap", mremap, 3), ArgFormat::mremap_flags);  // MREMAP_*, not MAP_*
}

TEST(ArgSpec, ProcessesAndSignals) {
  std::vector<Arg> clone = {{"unsigned long", "clone_flags"}, {"unsigned long", "newsp"}, {"int *", "parent_tidptr"},
                            {"int *", "child_tidptr"}, {"unsigned long", "tls"}};
  expect_raw(classify("clone", clone, 0), ArgFormat::clone_flags);
  expect_raw(classify("clone", clone, 1), ArgFormat::pointer);
  expect_raw(classify("clone", clone, 4), ArgFormat::pointer);
  std::vector<Arg> unshare = {{"unsigned long", "unshare_flags"}};
  expect_raw(classify("unshare", unshare, 0), ArgFormat::clone_flags);

  std::vector<Arg> kill = {{"pid_t", "pid"}, {"int", "sig"}};
  expect_raw(classify("kill", kill, 0), ArgFormat::signed_dec);
  expect_raw(classify("kill", kill, 1), ArgFormat::signal);
  std::vector<Arg> tgkill = {{"pid_t", "tgid"}, {"pid_t", "pid"}, {"int", "sig"}};
  expect_raw(classify("tgkill", tgkill, 2), ArgFormat::signal);
  expect_raw(classify("tkill", {{"pid_t", "pid"}, {"int", "sig"}}, 1), ArgFormat::signal);
  std::vector<Arg> sigaction = {{"int", "sig"}, {"const struct sigaction *", "act"}, {"struct sigaction *", "oact"},
                                {"size_t", "sigsetsize"}};
  expect_raw(classify("rt_sigaction", sigaction, 0), ArgFormat::signal);
  EXPECT_EQ(classify("rt_sigaction", sigaction, 1).kind_byte, CGS_KIND_BYTE(CGS_ARG_STRUCT, 0));
  EXPECT_EQ(classify("rt_sigaction", sigaction, 1).struct_size, 32);
  // rseq's sig is a signature word, not a signal.
  std::vector<Arg> rseq = {{"struct rseq *", "rseq"}, {"u32", "rseq_len"}, {"int", "flags"}, {"u32", "sig"}};
  expect_raw(classify("rseq", rseq, 3), ArgFormat::unsigned_dec);
  std::vector<Arg> exit_event = {{"int", "exit_code"}, {"int", "signal"}, {"u32", "pidns"}};
  expect_raw(classify("sched_process_exit", exit_event, 1), ArgFormat::signal);
  expect_raw(classify("sched_process_exit", exit_event, 2), ArgFormat::unsigned_dec);
  std::vector<Arg> wait4 = {{"pid_t", "upid"}, {"int *", "stat_addr"}, {"int", "options"}, {"struct rusage *", "ru"}};
  expect_raw(classify("wait4", wait4, 2), ArgFormat::hex);
}

TEST(ArgSpec, Sockets) {
  std::vector<Arg> socket = {{"int", "family"}, {"int", "type"}, {"int", "protocol"}};
  expect_raw(classify("socket", socket, 0), ArgFormat::socket_domain);
  expect_raw(classify("socket", socket, 1), ArgFormat::socket_type);
  expect_raw(classify("socket", socket, 2), ArgFormat::signed_dec);
  // Elsewhere "type" is just a number.
  std::vector<Arg> kcmp = {{"pid_t", "pid1"}, {"pid_t", "pid2"}, {"int", "type"}, {"unsigned long", "idx1"},
                           {"unsigned long", "idx2"}};
  expect_raw(classify("kcmp", kcmp, 2), ArgFormat::signed_dec);
}

TEST(ArgSpec, ModesAndFallbacks) {
  expect_raw(classify("mkdir", {{"const char *", "pathname"}, {"umode_t", "mode"}}, 1), ArgFormat::mode_octal);
  expect_raw(classify("umask", {{"int", "mask"}}, 0), ArgFormat::mode_octal);
  expect_raw(classify("fallocate", {{"int", "fd"}, {"int", "mode"}, {"loff_t", "offset"}, {"loff_t", "len"}}, 1),
             ArgFormat::hex);
  expect_raw(classify("alarm", {{"unsigned int", "seconds"}}, 0), ArgFormat::unsigned_dec);
  expect_raw(classify("exit_group", {{"int", "error_code"}}, 0), ArgFormat::signed_dec);
  expect_raw(classify("lseek", {{"unsigned int", "fd"}, {"off_t", "offset"}, {"unsigned int", "whence"}}, 1),
             ArgFormat::signed_dec);
  expect_raw(classify("capget", {{"cap_user_header_t", "header"}, {"cap_user_data_t", "dataptr"}}, 0),
             ArgFormat::pointer);
  expect_raw(classify("prctl", {{"int", "option"}, {"unsigned long", "arg2"}}, 1), ArgFormat::hex);
  expect_raw(classify("ioctl", {{"unsigned int", "fd"}, {"unsigned int", "cmd"}, {"unsigned long", "arg"}}, 1),
             ArgFormat::ioctl_request);
  expect_raw(classify("ioctl", {{"unsigned int", "fd"}, {"unsigned int", "cmd"}, {"unsigned long", "arg"}}, 2),
             ArgFormat::hex);
  // Unknown syscalls and types still get a sensible raw format.
  expect_raw(classify("frobnicate", {{"struct frob *", "f"}, {"u64", "n"}, {"long", "k"}}, 0), ArgFormat::pointer);
  expect_raw(classify("frobnicate", {{"struct frob *", "f"}, {"u64", "n"}, {"long", "k"}}, 1), ArgFormat::unsigned_dec);
  expect_raw(classify("frobnicate", {{"struct frob *", "f"}, {"u64", "n"}, {"long", "k"}}, 2), ArgFormat::signed_dec);
}

TEST(ArgSpec, SockaddrWithoutLengthArgumentIsOnlyAPointer) {
  expect_raw(classify("frobnicate", {{"struct sockaddr *", "sa"}, {"int", "flags"}}, 0), ArgFormat::pointer);
}

TEST(ArgSpec, FormatNames) {
  EXPECT_EQ(arg_format_name(ArgFormat::open_flags), "open_flags");
  EXPECT_EQ(arg_format_name(ArgFormat::pointer), "pointer");
  EXPECT_EQ(arg_format_name(ArgFormat::dirfd), "dirfd");
}

}  // namespace
}  // namespace cgscope::trace
