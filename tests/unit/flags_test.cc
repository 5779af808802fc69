#include "trace/flags.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "appended.h"

namespace cgscope::trace {
namespace {

std::string at(uint64_t v, std::string_view syscall = {}) {
  std::string out;
  format_at_flags(out, v, syscall);
  return out;
}

TEST(Flags, AppendsWithoutClearing) {
  std::string out = "flags=";
  format_open_flags(out, 0);
  EXPECT_EQ(out, "flags=O_RDONLY");
}

TEST(Flags, OpenFlags) {
  EXPECT_EQ(fmt(format_open_flags, 00), "O_RDONLY");
  EXPECT_EQ(fmt(format_open_flags, 02000000), "O_RDONLY|O_CLOEXEC");
  EXPECT_EQ(fmt(format_open_flags, 01 | 0100 | 01000), "O_WRONLY|O_CREAT|O_TRUNC");
  EXPECT_EQ(fmt(format_open_flags, 02 | 0200 | 0100), "O_RDWR|O_CREAT|O_EXCL");
  EXPECT_EQ(fmt(format_open_flags, 03), "O_ACCMODE");
  EXPECT_EQ(fmt(format_open_flags, 04000 | 0200000 | 02000000), "O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC");
  EXPECT_EQ(fmt(format_open_flags, 010000000 | 02000000 | 0400000), "O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH");
  EXPECT_EQ(fmt(format_open_flags, 01 | 02000), "O_WRONLY|O_APPEND");
  EXPECT_EQ(fmt(format_open_flags, 0100000), "O_RDONLY|O_LARGEFILE");
}

TEST(Flags, OpenFlagsMultiBitNames) {
  // O_SYNC is __O_SYNC|O_DSYNC and O_TMPFILE is __O_TMPFILE|O_DIRECTORY: each
  // shows once, under its own name, not as its parts.
  EXPECT_EQ(fmt(format_open_flags, 01 | 04010000), "O_WRONLY|O_SYNC");
  EXPECT_EQ(fmt(format_open_flags, 01 | 010000), "O_WRONLY|O_DSYNC");
  EXPECT_EQ(fmt(format_open_flags, 02 | 020200000), "O_RDWR|O_TMPFILE");
  EXPECT_EQ(fmt(format_open_flags, 0200000), "O_RDONLY|O_DIRECTORY");
}

TEST(Flags, OpenFlagsUnknownBitsAsHex) {
  EXPECT_EQ(fmt(format_open_flags, 0x40000000 | 02000000), "O_RDONLY|O_CLOEXEC|0x40000000");
  EXPECT_EQ(fmt(format_open_flags, uint64_t{1} << 40), "O_RDONLY|0x10000000000");
}

TEST(Flags, AtFlags) {
  EXPECT_EQ(at(0), "0");
  EXPECT_EQ(at(0x100), "AT_SYMLINK_NOFOLLOW");
  EXPECT_EQ(at(0x200), "AT_REMOVEDIR");
  EXPECT_EQ(at(0x200, "unlinkat"), "AT_REMOVEDIR");
  EXPECT_EQ(at(0x200, "faccessat2"), "AT_EACCESS");
  EXPECT_EQ(at(0x400), "AT_SYMLINK_FOLLOW");
  EXPECT_EQ(at(0x1000 | 0x100), "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH");
  EXPECT_EQ(at(0x800 | 0x4000), "AT_NO_AUTOMOUNT|AT_STATX_DONT_SYNC");
  EXPECT_EQ(at(0x8000), "AT_RECURSIVE");
  EXPECT_EQ(at(0x1000 | 0x1), "AT_EMPTY_PATH|0x1");
}

TEST(Flags, MmapProt) {
  EXPECT_EQ(fmt(format_mmap_prot, 0), "PROT_NONE");
  EXPECT_EQ(fmt(format_mmap_prot, 1), "PROT_READ");
  EXPECT_EQ(fmt(format_mmap_prot, 3), "PROT_READ|PROT_WRITE");
  EXPECT_EQ(fmt(format_mmap_prot, 5), "PROT_READ|PROT_EXEC");
  EXPECT_EQ(fmt(format_mmap_prot, 7), "PROT_READ|PROT_WRITE|PROT_EXEC");
  EXPECT_EQ(fmt(format_mmap_prot, 0x1000001), "PROT_READ|PROT_GROWSDOWN");
  EXPECT_EQ(fmt(format_mmap_prot, 0x10 | 1), "PROT_READ|0x10");
}

TEST(Flags, MmapFlags) {
  EXPECT_EQ(fmt(format_mmap_flags, 0x02 | 0x20), "MAP_PRIVATE|MAP_ANONYMOUS");
  EXPECT_EQ(fmt(format_mmap_flags, 0x01), "MAP_SHARED");
  EXPECT_EQ(fmt(format_mmap_flags, 0x03 | 0x80000), "MAP_SHARED_VALIDATE|MAP_SYNC");
  EXPECT_EQ(fmt(format_mmap_flags, 0x02 | 0x10 | 0x800), "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE");
  EXPECT_EQ(fmt(format_mmap_flags, 0x02 | 0x20 | 0x20000 | 0x4000 | 0x8000),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|MAP_POPULATE|MAP_STACK");
  EXPECT_EQ(fmt(format_mmap_flags, 0x02 | 0x100000), "MAP_PRIVATE|MAP_FIXED_NOREPLACE");
  EXPECT_EQ(fmt(format_mmap_flags, 0), "0");
}

TEST(Flags, MmapHugePageSizes) {
  constexpr uint64_t hugetlb = 0x40000;
  EXPECT_EQ(fmt(format_mmap_flags, 0x22 | hugetlb | (uint64_t{21} << 26)),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_2MB");
  EXPECT_EQ(fmt(format_mmap_flags, 0x22 | hugetlb | (uint64_t{30} << 26)),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_1GB");
  EXPECT_EQ(fmt(format_mmap_flags, 0x22 | hugetlb | (uint64_t{16} << 26)),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_64KB");
  // Without MAP_HUGETLB bit 26 is MAP_UNINITIALIZED.
  EXPECT_EQ(fmt(format_mmap_flags, 0x22 | 0x4000000), "MAP_PRIVATE|MAP_ANONYMOUS|MAP_UNINITIALIZED");
}

TEST(Flags, MmapUnknownTypeAndBits) {
  EXPECT_EQ(fmt(format_mmap_flags, 0x5), "0x5");
  EXPECT_EQ(fmt(format_mmap_flags, 0x2 | (uint64_t{1} << 33)), "MAP_PRIVATE|0x200000000");
}

TEST(Flags, CloneFlags) {
  // fork() in glibc.
  EXPECT_EQ(fmt(format_clone_flags, 0x01200011), "SIGCHLD|CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID");
  // pthread_create.
  EXPECT_EQ(fmt(format_clone_flags, 0x3d0f00),
            "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|"
            "CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID");
  EXPECT_EQ(fmt(format_clone_flags, 0x20000000 | 0x00020000 | 0x40000000 | 17),
            "SIGCHLD|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET");
  EXPECT_EQ(fmt(format_clone_flags, 0x4000 | 0x100 | 17), "SIGCHLD|CLONE_VM|CLONE_VFORK");
  EXPECT_EQ(fmt(format_clone_flags, 0), "0");
}

TEST(Flags, CloneFlagsLowByte) {
  // unshare(CLONE_NEWTIME): 0x80 cannot be a signal number.
  EXPECT_EQ(fmt(format_clone_flags, 0x80), "CLONE_NEWTIME");
  EXPECT_EQ(fmt(format_clone_flags, 0x10000000 | 0x80), "CLONE_NEWTIME|CLONE_NEWUSER");
  EXPECT_EQ(fmt(format_clone_flags, 0x90), "0x90");
  EXPECT_EQ(fmt(format_clone_flags, 9), "SIGKILL");
  EXPECT_EQ(fmt(format_clone_flags, 0x200000000ULL | 17), "SIGCHLD|CLONE_INTO_CGROUP");
  EXPECT_EQ(fmt(format_clone_flags, (uint64_t{1} << 40) | 0x100), "CLONE_VM|0x10000000000");
}

TEST(Flags, Signals) {
  EXPECT_EQ(fmt(format_signal, 9), "SIGKILL");
  EXPECT_EQ(fmt(format_signal, 15), "SIGTERM");
  EXPECT_EQ(fmt(format_signal, 17), "SIGCHLD");
  EXPECT_EQ(fmt(format_signal, 1), "SIGHUP");
  EXPECT_EQ(fmt(format_signal, 31), "SIGSYS");
  EXPECT_EQ(fmt(format_signal, 32), "SIGRTMIN");
  EXPECT_EQ(fmt(format_signal, 34), "SIGRTMIN+2");
  EXPECT_EQ(fmt(format_signal, 45), "SIGRTMIN+13");
  EXPECT_EQ(fmt(format_signal, 64), "SIGRTMAX");
  EXPECT_EQ(fmt(format_signal, 0), "0");
  EXPECT_EQ(fmt(format_signal, 65), "65");
  // The kernel's int: upper bits of the register are not part of it.
  EXPECT_EQ(fmt(format_signal, 0xffffffff00000009ULL), "SIGKILL");
  EXPECT_EQ(fmt(format_signal, 0xffffffffULL), "-1");
  EXPECT_EQ(signal_name(6), "SIGABRT");
  EXPECT_EQ(signal_name(29), "SIGIO");
  EXPECT_EQ(signal_name(0), "");
  EXPECT_EQ(signal_name(-3), "");
}

TEST(Flags, EverySignalBelowSigrtminHasAName) {
  for (int s = 1; s < 32; ++s) {
    EXPECT_FALSE(signal_name(s).empty()) << s;
    EXPECT_EQ(signal_name(s).substr(0, 3), "SIG") << s;
  }
}

TEST(Flags, SocketDomain) {
  EXPECT_EQ(fmt(format_socket_domain, 2), "AF_INET");
  EXPECT_EQ(fmt(format_socket_domain, 10), "AF_INET6");
  EXPECT_EQ(fmt(format_socket_domain, 1), "AF_UNIX");
  EXPECT_EQ(fmt(format_socket_domain, 16), "AF_NETLINK");
  EXPECT_EQ(fmt(format_socket_domain, 17), "AF_PACKET");
  EXPECT_EQ(fmt(format_socket_domain, 40), "AF_VSOCK");
  EXPECT_EQ(fmt(format_socket_domain, 0), "AF_UNSPEC");
  EXPECT_EQ(fmt(format_socket_domain, 99), "99");
  EXPECT_EQ(socket_domain_name(44), "AF_XDP");
  EXPECT_EQ(socket_domain_name(-1), "");
}

TEST(Flags, SocketType) {
  EXPECT_EQ(fmt(format_socket_type, 1), "SOCK_STREAM");
  EXPECT_EQ(fmt(format_socket_type, 2 | 04000 | 02000000), "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC");
  EXPECT_EQ(fmt(format_socket_type, 1 | 02000000), "SOCK_STREAM|SOCK_CLOEXEC");
  EXPECT_EQ(fmt(format_socket_type, 3), "SOCK_RAW");
  EXPECT_EQ(fmt(format_socket_type, 5), "SOCK_SEQPACKET");
  EXPECT_EQ(fmt(format_socket_type, 10), "SOCK_PACKET");
  EXPECT_EQ(fmt(format_socket_type, 7 | 02000000), "7|SOCK_CLOEXEC");
  EXPECT_EQ(fmt(format_socket_type, 1 | 0x100), "SOCK_STREAM|0x100");
}

TEST(Flags, Mode) {
  EXPECT_EQ(fmt(format_mode, 0644), "0644");
  EXPECT_EQ(fmt(format_mode, 0755), "0755");
  EXPECT_EQ(fmt(format_mode, 04755), "04755");
  EXPECT_EQ(fmt(format_mode, 0), "0000");
  EXPECT_EQ(fmt(format_mode, 07), "0007");
  EXPECT_EQ(fmt(format_mode, 020600), "020600");
}

TEST(Flags, Errno) {
  EXPECT_EQ(fmt(format_errno, int64_t{-2}), "-2 (ENOENT)");
  EXPECT_EQ(fmt(format_errno, int64_t{-1}), "-1 (EPERM)");
  EXPECT_EQ(fmt(format_errno, int64_t{-13}), "-13 (EACCES)");
  EXPECT_EQ(fmt(format_errno, int64_t{-11}), "-11 (EAGAIN)");
  EXPECT_EQ(fmt(format_errno, int64_t{-115}), "-115 (EINPROGRESS)");
  EXPECT_EQ(fmt(format_errno, int64_t{-111}), "-111 (ECONNREFUSED)");
  EXPECT_EQ(fmt(format_errno, int64_t{-133}), "-133 (EHWPOISON)");
  EXPECT_EQ(fmt(format_errno, int64_t{-512}), "-512 (ERESTARTSYS)");
  EXPECT_EQ(fmt(format_errno, int64_t{-41}), "-41");  // no errno 41
  EXPECT_EQ(fmt(format_errno, int64_t{-4000}), "-4000");
  EXPECT_EQ(fmt(format_errno, int64_t{-5000}), "-5000");  // outside the error range
  EXPECT_EQ(fmt(format_errno, int64_t{0}), "0");
  EXPECT_EQ(fmt(format_errno, int64_t{3}), "3");
  EXPECT_EQ(fmt(format_errno, INT64_MIN), "-9223372036854775808");
}

TEST(Flags, ErrnoNames) {
  EXPECT_EQ(errno_name(2), "ENOENT");
  EXPECT_EQ(errno_name(22), "EINVAL");
  EXPECT_EQ(errno_name(95), "EOPNOTSUPP");
  EXPECT_EQ(errno_name(35), "EDEADLK");
  EXPECT_EQ(errno_name(0), "");
  EXPECT_EQ(errno_name(41), "");
  EXPECT_EQ(errno_name(58), "");
  EXPECT_EQ(errno_name(134), "");
  EXPECT_EQ(errno_name(-2), "");
  int named = 0;
  for (int e = 1; e <= 133; ++e) named += !errno_name(e).empty();
  EXPECT_EQ(named, 131);  // all of 1..133 but the unused 41 and 58
}

}  // namespace
}  // namespace cgscope::trace
