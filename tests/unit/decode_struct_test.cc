// The struct decoders (decode_struct.h) on the byte layouts the kernel copies,
// built with the C library's own structs, and the texts strace 6.1 printed for
// the same values in a run of tests/workload/struct_mix.c (and of `stat
// /usr/bin/su`, a program setting a signal handler), plus the JSON shapes.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <dirent.h>
#include <linux/sched.h>
#include <linux/stat.h>

#include <cstring>
#include <string>
#include <vector>

#include "cgscope/abi/trace.h"
#include "trace/decode_struct.h"
#include "trace/struct_rules.h"

namespace cgscope::trace {
namespace {

template <class T>
std::vector<uint8_t> bytes_of(const T& v) {
  std::vector<uint8_t> b(sizeof(T));
  std::memcpy(b.data(), &v, sizeof(T));
  return b;
}

std::string text(ArgFormat f, const std::vector<uint8_t>& d, int64_t ret = 0, bool cut = false) {
  std::string out;
  StructOut o(out, false);
  EXPECT_TRUE(decode_struct(o, f, d, ret, cut));
  return out;
}

std::string json(ArgFormat f, const std::vector<uint8_t>& d, int64_t ret = 0, bool cut = false) {
  std::string out;
  StructOut o(out, true);
  EXPECT_TRUE(decode_struct(o, f, d, ret, cut));
  return out;
}

TEST(DecodeStruct, StatOfAFileShowsModeAndSize) {
  struct stat st {};
  st.st_mode = S_IFREG | 0644;
  st.st_size = 1284;
  st.st_ino = 42;
  st.st_nlink = 1;
  EXPECT_EQ(text(ArgFormat::stat_struct, bytes_of(st)), "{st_mode=S_IFREG|0644, st_size=1284, ...}");
  std::string j = json(ArgFormat::stat_struct, bytes_of(st));
  EXPECT_NE(j.find("\"st_mode\":\"S_IFREG|0644\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"st_size\":1284"), std::string::npos) << j;
  EXPECT_NE(j.find("\"st_ino\":42"), std::string::npos) << j;
  EXPECT_EQ(j.find("..."), std::string::npos) << j;
}

TEST(DecodeStruct, StatOfADeviceShowsItsNumber) {
  struct stat st {};
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_EQ(text(ArgFormat::stat_struct, bytes_of(st)), "{st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}");
  st.st_mode = S_IFIFO | 0600;
  st.st_size = 0;
  EXPECT_EQ(text(ArgFormat::stat_struct, bytes_of(st)), "{st_mode=S_IFIFO|0600, st_size=0, ...}");
  st.st_mode = S_IFREG | S_ISUID | 0755;
  st.st_size = 72000;
  EXPECT_EQ(text(ArgFormat::stat_struct, bytes_of(st)), "{st_mode=S_IFREG|S_ISUID|0755, st_size=72000, ...}");
}

TEST(DecodeStruct, ShortBytesAreNoStruct) {
  std::string out;
  StructOut o(out, false);
  EXPECT_FALSE(decode_struct(o, ArgFormat::stat_struct, std::vector<uint8_t>(100), 0, false));
  EXPECT_FALSE(decode_struct(o, ArgFormat::timespec, std::vector<uint8_t>(8), 0, false));
  EXPECT_EQ(out, "");
}

TEST(DecodeStruct, Statx) {
  struct statx sx {};
  sx.stx_mask = 0x1fff;  // what the kernel answered `stat /usr/bin/su`'s STATX_ALL with
  sx.stx_mode = S_IFREG | S_ISUID | 0755;
  sx.stx_size = 72000;
  EXPECT_EQ(text(ArgFormat::statx_struct, bytes_of(sx)),
            "{stx_mask=STATX_ALL|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFREG|S_ISUID|0755, stx_size=72000, ...}");
  sx.stx_mask = STATX_BASIC_STATS | STATX_MNT_ID;
  sx.stx_mode = S_IFCHR | 0666;
  sx.stx_size = 0;
  EXPECT_EQ(text(ArgFormat::statx_struct, bytes_of(sx)),
            "{stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFCHR|0666, stx_size=0, ...}");
}

TEST(DecodeStruct, WaitStatus) {
  EXPECT_EQ(text(ArgFormat::wait_status, bytes_of(3 << 8)), "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]");
  EXPECT_EQ(text(ArgFormat::wait_status, bytes_of(0)), "[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]");
  EXPECT_EQ(text(ArgFormat::wait_status, bytes_of(SIGKILL)), "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]");
  EXPECT_EQ(text(ArgFormat::wait_status, bytes_of(SIGSEGV | 0x80)),
            "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]");
  EXPECT_EQ(text(ArgFormat::wait_status, bytes_of(0x7f | (SIGSTOP << 8))), "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]");
  EXPECT_EQ(text(ArgFormat::wait_status, bytes_of(0xffff)), "[{WIFCONTINUED(s)}]");
  EXPECT_EQ(json(ArgFormat::wait_status, bytes_of(3 << 8)),
            "{\"status\":\"WIFEXITED(s) && WEXITSTATUS(s) == 3\",\"raw\":768}");
}

TEST(DecodeStruct, FdPair) {
  int fds[2] = {3, 4};
  EXPECT_EQ(text(ArgFormat::fd_pair, bytes_of(fds)), "[3, 4]");
  EXPECT_EQ(json(ArgFormat::fd_pair, bytes_of(fds)), "[3,4]");
}

TEST(DecodeStruct, PollFds) {
  struct pollfd p[2] = {{3, POLLIN, POLLIN}, {4, POLLOUT, POLLOUT}};
  EXPECT_EQ(text(ArgFormat::pollfd_array, bytes_of(p), 2), "[{fd=3, events=POLLIN}, {fd=4, events=POLLOUT}]");
  EXPECT_EQ(json(ArgFormat::pollfd_array, bytes_of(p), 2),
            "[{\"fd\":3,\"events\":\"POLLIN\",\"revents\":\"POLLIN\"},{\"fd\":4,\"events\":\"POLLOUT\","
            "\"revents\":\"POLLOUT\"}]");
  EXPECT_EQ(json(ArgFormat::pollfd_array, bytes_of(p), -4), "[{\"fd\":3,\"events\":\"POLLIN\"},{\"fd\":4,\"events\":\"POLLOUT\"}]")
      << "a failed poll filled no revents";
  struct pollfd odd = {5, POLLIN | POLLRDHUP | 0x4000, 0};
  EXPECT_EQ(text(ArgFormat::pollfd_array, bytes_of(odd), 0, true), "[{fd=5, events=POLLIN|POLLRDHUP|0x4000}, ...]");
}

TEST(DecodeStruct, Iovecs) {
  struct iovec v[2] = {{reinterpret_cast<void*>(0x5555deadb000), 5}, {nullptr, 6}};
  EXPECT_EQ(text(ArgFormat::iovec_array, bytes_of(v)), "[{iov_base=0x5555deadb000, iov_len=5}, {iov_base=NULL, iov_len=6}]");
  EXPECT_EQ(json(ArgFormat::iovec_array, bytes_of(v)),
            "[{\"iov_base\":\"0x5555deadb000\",\"iov_len\":5},{\"iov_base\":null,\"iov_len\":6}]");
}

TEST(DecodeStruct, Timespec) {
  struct timespec ts = {0, 1000000};
  EXPECT_EQ(text(ArgFormat::timespec, bytes_of(ts)), "{tv_sec=0, tv_nsec=1000000}");
  ts = {306, 389028944};
  EXPECT_EQ(json(ArgFormat::timespec, bytes_of(ts)), "{\"tv_sec\":306,\"tv_nsec\":389028944}");
}

TEST(DecodeStruct, Utsname) {
  struct utsname u {};
  std::strcpy(u.sysname, "Linux");
  std::strcpy(u.nodename, "vm");
  std::strcpy(u.release, "6.18.0");
  std::strcpy(u.machine, "x86_64");
  EXPECT_EQ(text(ArgFormat::utsname, bytes_of(u)), "{sysname=\"Linux\", nodename=\"vm\", ...}");
  std::string j = json(ArgFormat::utsname, bytes_of(u));
  EXPECT_NE(j.find("\"release\":\"6.18.0\",\"version\":\"\",\"machine\":\"x86_64\""), std::string::npos) << j;
}

// The kernel's struct sigaction on x86_64 (not glibc's, whose mask is 128 bytes).
struct KernelSigaction {
  uint64_t handler, flags, restorer, mask;
};

TEST(DecodeStruct, Sigaction) {
  // strace: {sa_handler=0x5639aa95b169, sa_mask=[INT RT_5 RT_32], sa_flags=SA_RESTORER|SA_ONSTACK|
  // SA_RESTART|SA_NODEFER|SA_RESETHAND|SA_SIGINFO|SA_NOCLDSTOP|0xffffffff00000000, sa_restorer=0x7f9fa8dac050}
  KernelSigaction a{0x5639aa95b169, 0xffffffffdc000005, 0x7f9fa8dac050,
                    (1ull << (SIGINT - 1)) | (1ull << 36) | (1ull << 63)};
  EXPECT_EQ(text(ArgFormat::sigaction, bytes_of(a)),
            "{sa_handler=0x5639aa95b169, sa_mask=[INT RT_5 RT_32], sa_flags=SA_RESTORER|SA_ONSTACK|SA_RESTART|"
            "SA_NODEFER|SA_RESETHAND|SA_SIGINFO|SA_NOCLDSTOP|0xffffffff00000000, sa_restorer=0x7f9fa8dac050}");
  // sh's: every signal but glibc's two (32, 33), and a handler-less default.
  KernelSigaction b{0x561054eecdc0, 0x04000000, 0x7f9e25c21050, ~(3ull << 31)};
  EXPECT_EQ(text(ArgFormat::sigaction, bytes_of(b)),
            "{sa_handler=0x561054eecdc0, sa_mask=~[RTMIN RT_1], sa_flags=SA_RESTORER, sa_restorer=0x7f9e25c21050}");
  KernelSigaction c{0, 0, 0, 0};
  EXPECT_EQ(text(ArgFormat::sigaction, bytes_of(c)), "{sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}");
}

TEST(DecodeStruct, EpollEvents) {
  struct epoll_event ev = {.events = EPOLLIN, .data = {.u64 = 7}};
  EXPECT_EQ(text(ArgFormat::epoll_event, bytes_of(ev)), "{events=EPOLLIN, data={u32=7, u64=7}}");
  struct epoll_event two[2] = {{EPOLLIN | EPOLLET, {.u64 = 0x100000003}}, {EPOLLOUT, {.u64 = 4}}};
  EXPECT_EQ(text(ArgFormat::epoll_array, bytes_of(two)),
            "[{events=EPOLLIN|EPOLLET, data={u32=3, u64=4294967299}}, {events=EPOLLOUT, data={u32=4, u64=4}}]");
  EXPECT_EQ(json(ArgFormat::epoll_event, bytes_of(ev)), "{\"events\":\"EPOLLIN\",\"data\":{\"u32\":7,\"u64\":7}}");
}

TEST(DecodeStruct, CloneArgs) {
  struct clone_args ca {};
  ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
             CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  ca.child_tid = 0x7f0e1b7fe990;
  ca.parent_tid = 0x7f0e1b7fe990;
  ca.stack = 0x7f0e1affe000;
  ca.stack_size = 0x7fff80;
  ca.tls = 0x7f0e1b7fe6c0;
  EXPECT_EQ(text(ArgFormat::clone_args, bytes_of(ca)),
            "{flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|"
            "CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7f0e1b7fe990, parent_tid=0x7f0e1b7fe990, "
            "exit_signal=0, stack=0x7f0e1affe000, stack_size=0x7fff80, tls=0x7f0e1b7fe6c0}");
}

TEST(DecodeStruct, SocklenIsTheIntInBrackets) {
  // strace: accept4(3, {...}, [16], SOCK_CLOEXEC) = 5; getsockopt(5, SOL_SOCKET, SO_TYPE, [1], [4]) = 0
  int32_t sixteen = 16, four = 4;
  EXPECT_EQ(text(ArgFormat::socklen, bytes_of(sixteen)), "[16]");
  EXPECT_EQ(text(ArgFormat::socklen, bytes_of(four)), "[4]");
  EXPECT_EQ(json(ArgFormat::socklen, bytes_of(sixteen)), "[16]");
  std::string out;
  StructOut o(out, false);
  EXPECT_FALSE(decode_struct(o, ArgFormat::socklen, std::vector<uint8_t>(3), 0)) << "short: the address";
}

TEST(DecodeStruct, FutexTimeoutIsATimespec) {
  // strace: futex(0x55edc0e18138, FUTEX_WAIT_PRIVATE, 2, {tv_sec=1, tv_nsec=0}) = -1 EAGAIN
  struct timespec sec = {1, 0};
  EXPECT_EQ(text(ArgFormat::futex_timeout, bytes_of(sec)), "{tv_sec=1, tv_nsec=0}");
  EXPECT_EQ(json(ArgFormat::futex_timeout, bytes_of(sec)), "{\"tv_sec\":1,\"tv_nsec\":0}");
}

// linux_dirent64 records as the kernel lays them out: 19 bytes of header, the
// name and its NUL, padded to 8.
void put_dirent(std::vector<uint8_t>& b, uint64_t ino, int64_t off, uint8_t type, std::string_view name) {
  size_t at = b.size(), reclen = (19 + name.size() + 1 + 7) & ~size_t{7};
  b.resize(at + reclen);
  auto len = static_cast<uint16_t>(reclen);
  std::memcpy(&b[at], &ino, 8);
  std::memcpy(&b[at + 8], &off, 8);
  std::memcpy(&b[at + 16], &len, 2);
  b[at + 18] = type;
  std::memcpy(&b[at + 19], name.data(), name.size());
}

TEST(DecodeStruct, Dirents64AreStracesEntries) {
  // strace -v: getdents64(3, [{d_ino=10952881, d_off=2232908316014189079, d_reclen=24, d_type=DT_REG,
  // d_name="file"}, {d_ino=10952868, ...d_name="."}, ..., {d_ino=247066, d_off=9223372036854775807,
  // d_reclen=24, d_type=DT_DIR, d_name=".."}], 4096) = 96
  std::vector<uint8_t> b;
  put_dirent(b, 10952881, 2232908316014189079, DT_REG, "file");
  put_dirent(b, 247066, 9223372036854775807, DT_DIR, "..");
  EXPECT_EQ(b.size(), 48u);
  EXPECT_EQ(text(ArgFormat::dirent64_array, b, 48),
            "[{d_ino=10952881, d_off=2232908316014189079, d_reclen=24, d_type=DT_REG, d_name=\"file\"}, "
            "{d_ino=247066, d_off=9223372036854775807, d_reclen=24, d_type=DT_DIR, d_name=\"..\"}]");
  EXPECT_EQ(json(ArgFormat::dirent64_array, b, 48),
            "[{\"d_ino\":10952881,\"d_off\":2232908316014189079,\"d_reclen\":24,\"d_type\":\"DT_REG\","
            "\"d_name\":\"file\"},{\"d_ino\":247066,\"d_off\":9223372036854775807,\"d_reclen\":24,"
            "\"d_type\":\"DT_DIR\",\"d_name\":\"..\"}]");
  EXPECT_EQ(text(ArgFormat::dirent64_array, {}, 0), "[]") << "at the directory's end";
}

TEST(DecodeStruct, Dirents64CutAtTheLimitEndInTheMark) {
  std::vector<uint8_t> b;
  put_dirent(b, 2, 1, DT_DIR, ".");
  put_dirent(b, 12, 2, 99, "a-long-name");  // a type with no name: its number
  // The kernel's cut (CGS_STRUCT_MAX) splits the second record.
  std::vector<uint8_t> cut(b.begin(), b.end() - 5);
  EXPECT_EQ(text(ArgFormat::dirent64_array, cut, 4096, true),
            "[{d_ino=2, d_off=1, d_reclen=24, d_type=DT_DIR, d_name=\".\"}, ...]");
  EXPECT_EQ(json(ArgFormat::dirent64_array, cut, 4096, true),
            "[{\"d_ino\":2,\"d_off\":1,\"d_reclen\":24,\"d_type\":\"DT_DIR\",\"d_name\":\".\"},\"...\"]");
  EXPECT_EQ(text(ArgFormat::dirent64_array, b, 56),
            "[{d_ino=2, d_off=1, d_reclen=24, d_type=DT_DIR, d_name=\".\"}, "
            "{d_ino=12, d_off=2, d_reclen=32, d_type=99, d_name=\"a-long-name\"}]");
  // A record length that would loop or overrun: the list stops there, marked.
  std::vector<uint8_t> bad = b;
  bad[16] = 0;
  bad[17] = 0;
  EXPECT_EQ(text(ArgFormat::dirent64_array, bad, 56), "[...]");
}

// The kernel copies struct_rules' sizes: they must be the ABI's.
TEST(StructRules, SizesAreTheAbis) {
  auto size = [](std::string_view sc, std::string_view arg, std::vector<std::string_view> names) {
    auto s = classify_struct(sc, arg, names);
    return s ? s->struct_size : 0;
  };
  EXPECT_EQ(size("stat", "statbuf", {"filename", "statbuf"}), sizeof(struct stat));
  EXPECT_EQ(size("statx", "buffer", {}), sizeof(struct statx));
  EXPECT_EQ(size("poll", "ufds", {"ufds", "nfds", "timeout_msecs"}), sizeof(struct pollfd));
  EXPECT_EQ(size("writev", "vec", {"fd", "vec", "vlen"}), sizeof(struct iovec));
  EXPECT_EQ(size("nanosleep", "rqtp", {}), sizeof(struct timespec));
  EXPECT_EQ(size("uname", "name", {}), sizeof(struct utsname));
  EXPECT_EQ(size("epoll_ctl", "event", {}), sizeof(struct epoll_event));
  EXPECT_EQ(size("rt_sigaction", "act", {}), sizeof(KernelSigaction));
  EXPECT_EQ(size("clone3", "uargs", {}), 88u);  // CLONE_ARGS_SIZE_VER2
  EXPECT_EQ(size("accept4", "upeer_addrlen", {}), sizeof(socklen_t));
  EXPECT_EQ(size("futex", "utime", {}), sizeof(struct timespec));
  EXPECT_EQ(size("getdents64", "dirent", {}), 1u) << "ret bytes: elements of one byte";
}

TEST(StructRules, KindsAndCounts) {
  auto poll = classify_struct("poll", "ufds", std::vector<std::string_view>{"ufds", "nfds", "timeout_msecs"});
  ASSERT_TRUE(poll);
  EXPECT_EQ(poll->kind_byte, CGS_KIND_BYTE(CGS_ARG_ARRAY, 1));
  auto ep = classify_struct("epoll_wait", "events", std::vector<std::string_view>{});
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->kind_byte, CGS_KIND_BYTE(CGS_ARG_ARRAY, CGS_COUNT_RET));
  auto st = classify_struct("newfstatat", "statbuf", std::vector<std::string_view>{});
  ASSERT_TRUE(st);
  EXPECT_EQ(st->kind_byte, CGS_KIND_BYTE(CGS_ARG_STRUCT, CGS_STRUCT_OUT));
  auto ns = classify_struct("nanosleep", "rqtp", std::vector<std::string_view>{});
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->kind_byte, CGS_KIND_BYTE(CGS_ARG_STRUCT, 0)) << "read by the call: shown whatever it returned";
  EXPECT_FALSE(classify_struct("nanosleep", "rmtp", std::vector<std::string_view>{}));
  // The value-result lengths are read whatever the call returned: a failed call
  // left the length it was given, as strace shows it.
  for (auto [sc, arg] : {std::pair{"accept", "upeer_addrlen"}, {"accept4", "upeer_addrlen"},
                         {"getsockname", "usockaddr_len"}, {"getpeername", "usockaddr_len"},
                         {"recvfrom", "addr_len"}, {"getsockopt", "optlen"}}) {
    auto sl = classify_struct(sc, arg, std::vector<std::string_view>{});
    ASSERT_TRUE(sl) << sc;
    EXPECT_EQ(sl->kind_byte, CGS_KIND_BYTE(CGS_ARG_STRUCT, 0)) << sc;
    EXPECT_EQ(sl->format, ArgFormat::socklen) << sc;
  }
  auto de = classify_struct("getdents64", "dirent", std::vector<std::string_view>{});
  ASSERT_TRUE(de);
  EXPECT_EQ(de->kind_byte, CGS_KIND_BYTE(CGS_ARG_ARRAY, CGS_COUNT_RET));
}

}  // namespace
}  // namespace cgscope::trace
