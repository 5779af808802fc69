// The owners of owned.h and the watchdog of main.cc, checked on real processes,
// FIFOs, namespaces and mounts: what a test makes is gone when it stops early,
// every wait returns within its bound, and a test that hangs is ended.
//
// The SelfCheck tests at the end hang or stop early on purpose. They are
// registered only with CGSCOPE_IT_SELFCHECK=1; the Watchdog and OwnedChild tests
// here run them in a child copy of this binary and check what it left. By hand:
//   CGSCOPE_IT_SELFCHECK=1 CGSCOPE_TEST_TIMEOUT=5 integration_tests --gtest_filter='SelfCheck.*'
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "core/cgroup2.h"
#include "core/small_file.h"
#include "owned.h"

namespace cgscope::testing {
namespace {

// A process by pid and start time (a pid alone may be reused).
struct Proc {
  pid_t pid = 0;
  unsigned long long start = 0;
};

struct ProcStat {
  char state = 0;
  pid_t pgrp = 0;
  unsigned long long start = 0;
};

std::optional<ProcStat> stat_of(pid_t pid) {
  // Not an ifstream: libstdc++ throws from a read that fails, and reading the stat
  // of a process that exits meanwhile fails with ESRCH.
  auto read = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  if (!read) return std::nullopt;
  const std::string& text = *read;
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream f(text.substr(paren + 2));  // from field 3, the state
  ProcStat s;
  std::string skip;
  pid_t ppid;
  f >> s.state >> ppid >> s.pgrp;
  for (int field = 6; field < 22; ++field) f >> skip;
  f >> s.start;
  if (!f) return std::nullopt;
  return s;
}

std::vector<Proc> group_members(pid_t pgid) {
  std::vector<Proc> out;
  std::error_code ec;  // a process that ends mid-walk is not an error
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename();
    if (n.empty() || !std::all_of(n.begin(), n.end(), ::isdigit)) continue;
    pid_t pid = std::stoi(n);
    if (auto s = stat_of(pid); s && s->pgrp == pgid && s->state != 'Z') out.push_back({pid, s->start});
  }
  return out;
}

bool alive(const Proc& p) {
  auto s = stat_of(p.pid);
  return s && s->start == p.start && s->state != 'Z' && s->state != 'X';
}

// The ones of `procs` still alive after waiting up to `limit` for them to die.
std::vector<Proc> survivors(const std::vector<Proc>& procs, Clock::duration limit = 10s) {
  auto end = Clock::now() + limit;
  for (;;) {
    std::vector<Proc> left;
    for (const Proc& p : procs)
      if (alive(p)) left.push_back(p);
    if (left.empty() || Clock::now() >= end) return left;
    std::this_thread::sleep_for(10ms);
  }
}

std::string pids(const std::vector<Proc>& procs) {
  std::string s;
  for (const Proc& p : procs) s += (s.empty() ? "" : " ") + std::to_string(p.pid);
  return s;
}

// Survivors are a failure, and are ended here (by pid and start time) so that a
// failing check does not leak them too.
void expect_none_left(const std::vector<Proc>& procs, const std::string& what) {
  auto left = survivors(procs);
  EXPECT_TRUE(left.empty()) << what << " left running: " << pids(left);
  for (const Proc& p : left)
    if (alive(p)) ::kill(p.pid, SIGKILL);
}

// Waits (bounded) until the group of `c` has at least `n` members; returns them.
std::vector<Proc> wait_for_members(const Child& c, size_t n) {
  std::vector<Proc> m;
  for (auto end = Clock::now() + 10s; Clock::now() < end; std::this_thread::sleep_for(10ms))
    if ((m = group_members(c.pid())).size() >= n) break;
  return m;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

TEST(OwnedChild, EndsTheWholeTreeItStartedWhenATestStopsEarly) {
  TempPath fifo("tree");
  ASSERT_EQ(mkfifo(fifo.path.c_str(), 0600), 0);
  std::vector<Proc> tree;
  [&] {  // a test body that stops at an ASSERT: its Child goes out of scope
    Child c;
    ASSERT_TRUE(c.start({"sh", "-c", "sleep 600 & sleep 600 & read l < " + fifo.path})) << c.error();
    tree = wait_for_members(c, 3);
  }();
  ASSERT_GE(tree.size(), 3u) << "the shell and its two sleeps: " << pids(tree);
  expect_none_left(tree, "the shell's tree");
}

TEST(OwnedChild, WaitIsBoundedAndTheGroupEndsWithItsLeader) {
  Child c;
  ASSERT_TRUE(c.start({"sh", "-c", "sleep 600 & exec sleep 601"})) << c.error();
  auto members = wait_for_members(c, 2);
  ASSERT_GE(members.size(), 2u) << pids(members);
  auto t0 = Clock::now();
  EXPECT_FALSE(c.wait_for(300ms)) << "a sleep of 601 s exited";
  EXPECT_GE(seconds_since(t0), 0.3);
  EXPECT_LT(seconds_since(t0), 5.0) << "wait_for(300ms) overran its bound";
  EXPECT_TRUE(c.running());
  c.signal(SIGTERM);  // the leader only
  auto st = c.wait_for(10s);
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGTERM) << describe_status(st);
  expect_none_left(members, "the leader's group after its exit");
}

TEST(OwnedChild, StartSaysWhyItCouldNot) {
  Child missing;
  EXPECT_FALSE(missing.start({"/nonexistent/cgscope-no-such-binary"}));
  EXPECT_NE(missing.error().find("cannot run /nonexistent/cgscope-no-such-binary: No such file"), std::string::npos)
      << missing.error();
  EXPECT_FALSE(missing.running());
  Child nocg;
  EXPECT_FALSE(nocg.start({"true"}, {.cgroup = "/nonexistent-cgroup"}));
  EXPECT_NE(nocg.error().find("cannot join cgroup /nonexistent-cgroup"), std::string::npos) << nocg.error();
  EXPECT_FALSE(nocg.running());
}

TEST(OwnedChild, HeldChildWaitsInItsCgroupUntilReleased) {
  auto mount = cgroup2_mount();
  ASSERT_TRUE(mount) << mount.error().message;
  auto cg = ScopedCgroup::create(*mount, unique_name("held"));
  ASSERT_TRUE(cg) << cg.error().message;
  const std::string rel = cg->path().substr(mount->size());
  Child c;
  ASSERT_TRUE(c.start({"cat", "/proc/self/cgroup"}, {.cgroup = cg->path(), .held = true, .out = Stream::kPipe}))
      << c.error();
  auto now = cgroup_of_pid(c.pid());
  ASSERT_TRUE(now) << now.error().message;
  EXPECT_EQ(*now, rel);
  std::string early;
  EXPECT_EQ(read_until(c.pipe_fd(), early, Clock::now() + 200ms), ReadEnd::kTimeout);
  EXPECT_EQ(early, "") << "ran before release()";
  ASSERT_TRUE(c.release()) << c.error();
  std::string out;
  EXPECT_TRUE(c.read_out(out, 10s));
  EXPECT_NE(("\n" + out).find("\n0::" + rel + "\n"), std::string::npos) << out;
  EXPECT_EQ(exit_code(c.wait_for(10s)), 0);
}

TEST(OwnedChild, FunctionChildReturnsItsValue) {
  Child c;
  ASSERT_TRUE(c.start_fn(
      [] {
        (void)!::write(1, "from the child", 14);
        return 7;
      },
      {.out = Stream::kPipe}))
      << c.error();
  std::string out;
  EXPECT_TRUE(c.read_out(out, 10s));
  EXPECT_EQ(out, "from the child");
  EXPECT_EQ(exit_code(c.wait_for(10s)), 7);
}

TEST(OwnedFifo, WriteGivesUpWithoutAReaderAndReachesOne) {
  TempPath fifo("fifo");
  ASSERT_EQ(mkfifo(fifo.path.c_str(), 0600), 0);
  auto t0 = Clock::now();
  EXPECT_FALSE(write_fifo(fifo.path, "go\n", 300ms)) << "no reader, yet the write succeeded";
  EXPECT_LT(seconds_since(t0), 5.0) << "write_fifo overran its bound";
  Child reader;
  ASSERT_TRUE(reader.start({"sh", "-c", "read l < " + fifo.path + "; echo \"got $l\""}, {.out = Stream::kPipe}))
      << reader.error();
  EXPECT_TRUE(write_fifo(fifo.path, "go\n"));
  std::string out;
  EXPECT_TRUE(reader.read_out(out, 10s));
  EXPECT_EQ(out, "got go\n");
}

TEST(OwnedRun, GivesTheCodeAndOutputAndEndsACommandPastItsBound) {
  auto r = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.output, "out\nerr\n");
  auto t0 = Clock::now();
  auto slow = run({"sleep", "600"}, 300ms);
  EXPECT_FALSE(slow.code) << "sleep 600 ended within 300 ms";
  EXPECT_LT(seconds_since(t0), 5.0) << "run() overran its bound";
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(OwnedNetns, EnteredThenLeftAndDeleted) {
  const ino_t before = inode_of("/proc/thread-self/ns/net");
  ASSERT_NE(before, 0u);
  const std::string name = unique_name("ns");
  const std::string pin = "/run/netns/" + name;
  {
    ScopedNetns ns;
    ASSERT_TRUE(ns.create(name)) << ns.error();
    ASSERT_TRUE(ns.enter()) << ns.error();
    EXPECT_EQ(inode_of("/proc/thread-self/ns/net"), inode_of(pin));
    EXPECT_NE(inode_of("/proc/thread-self/ns/net"), before);
  }
  EXPECT_EQ(inode_of("/proc/thread-self/ns/net"), before);
  EXPECT_NE(::access(pin.c_str(), F_OK), 0) << pin << " left behind";
}

bool mounted_at(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.find(" " + dir + " ") != std::string::npos) return true;
  return false;
}

TEST(OwnedMount, DetachedWithTheObject) {
  TempPath dir("mnt");
  ASSERT_TRUE(std::filesystem::create_directory(dir.path));
  {
    ScopedMount m;
    ASSERT_TRUE(m.mount("tmpfs", dir.path, "tmpfs", 0, "size=1m")) << m.error();
    EXPECT_TRUE(mounted_at(dir.path));
  }
  EXPECT_FALSE(mounted_at(dir.path)) << dir.path << " still mounted";
}

// ---------------------------------------------------------------------------
// The self-checks, run in a child copy of this binary.

struct SelfRun {
  std::optional<int> status;
  std::string out;
  std::vector<Proc> children;  // what the self-check said it started
};

SelfRun run_selfcheck(const std::string& test) {
  SelfRun r;
  Child c;
  EXPECT_TRUE(c.start({"/proc/self/exe", "--gtest_filter=SelfCheck." + test},
                      {.out = Stream::kPipe,
                       .err = Stream::kPipe,
                       .env = {"CGSCOPE_IT_SELFCHECK=1", "CGSCOPE_TEST_TIMEOUT=3", "CGSCOPE_TEST_GRACE=3"}}))
      << c.error();
  EXPECT_TRUE(c.read_out(r.out, 60s)) << r.out;
  r.status = c.wait_for(10s);
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    Proc p;
    if (std::sscanf(line.c_str(), "selfcheck child %d %llu", &p.pid, &p.start) == 2) r.children.push_back(p);
  }
  return r;
}

TEST(OwnedChild, NothingIsLeftWhenATestStopsAtAnAssertWithAChildBlockedOnAFifo) {
  auto r = run_selfcheck("StopsAtAnAssertWithAChildBlockedOnAFifo");
  EXPECT_EQ(exit_code(r.status), 1) << r.out;
  EXPECT_NE(r.out.find("deliberate early return"), std::string::npos) << r.out;
  ASSERT_EQ(r.children.size(), 1u) << r.out;
  expect_none_left(r.children, "the shell blocked on the FIFO");
}

TEST(Watchdog, EndsTheChildrenOfATestPastItsLimitSoItsWaitReturns) {
  auto t0 = Clock::now();
  auto r = run_selfcheck("WaitsAnHourForAChild");
  EXPECT_LT(seconds_since(t0), 30.0) << "the watchdog (limit 3 s) did not end the test";
  EXPECT_EQ(exit_code(r.status), 1) << "the test fails, the binary ends normally: " << r.out;
  EXPECT_NE(r.out.find("[ WATCHDOG ] SelfCheck.WaitsAnHourForAChild has run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("waiting for: exit of sh -c read l <"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the wait returned: killed by SIGKILL"), std::string::npos) << r.out;
  ASSERT_EQ(r.children.size(), 1u) << r.out;
  expect_none_left(r.children, "the shell the test waited for");
}

TEST(Watchdog, EndsTheBinaryWhenTheTestStillDoesNotEnd) {
  auto t0 = Clock::now();
  auto r = run_selfcheck("SleepsAnHourWhereNoKillHelps");
  EXPECT_LT(seconds_since(t0), 30.0) << "the watchdog (limit 3 s, grace 3 s) did not end the binary";
  EXPECT_EQ(exit_code(r.status), 124) << r.out;
  EXPECT_NE(r.out.find("[ WATCHDOG ] SelfCheck.SleepsAnHourWhereNoKillHelps did not end"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("waiting for: an hour's sleep"), std::string::npos) << r.out;
  ASSERT_EQ(r.children.size(), 1u) << r.out;
  expect_none_left(r.children, "the sleep the test started");
}

// Each self-check prints "selfcheck child PID START" for what it started; its
// children have no death signal, so that only the owners can have ended them.
void print_child(const Child& c) {
  auto s = stat_of(c.pid());
  std::printf("selfcheck child %d %llu\n", c.pid(), s ? s->start : 0ull);
  std::fflush(stdout);
}

void stops_at_an_assert() {  // the issue: an ASSERT returned with `sh -c 'read l < FIFO'` running
  TempPath fifo("fifo");
  ASSERT_EQ(mkfifo(fifo.path.c_str(), 0600), 0);
  Child sh;
  ASSERT_TRUE(sh.start({"sh", "-c", "read l < " + fifo.path}, {.death_signal = 0})) << sh.error();
  print_child(sh);
  ASSERT_TRUE(false) << "deliberate early return";
  ASSERT_TRUE(write_fifo(fifo.path, "go\n"));
}

void waits_an_hour() {
  TempPath fifo("fifo");
  ASSERT_EQ(mkfifo(fifo.path.c_str(), 0600), 0);
  Child sh;
  ASSERT_TRUE(sh.start({"sh", "-c", "read l < " + fifo.path}, {.death_signal = 0})) << sh.error();
  print_child(sh);
  auto st = sh.wait_for(std::chrono::hours(1));  // nobody writes the FIFO
  std::printf("the wait returned: %s\n", describe_status(st).c_str());
  std::fflush(stdout);
}

void sleeps_an_hour() {
  Child sleeper;
  ASSERT_TRUE(sleeper.start({"sleep", "3600"}, {.death_signal = 0})) << sleeper.error();
  print_child(sleeper);
  WaitNote note("an hour's sleep, which no kill of a child ends");
  std::this_thread::sleep_for(std::chrono::hours(1));
}

class SelfCheck : public ::testing::Test {
 public:
  explicit SelfCheck(void (*body)()) : body_(body) {}
  void TestBody() override { body_(); }

 private:
  void (*body_)();
};

}  // namespace

void register_selfchecks() {
  const struct {
    const char* name;
    void (*body)();
  } checks[] = {{"StopsAtAnAssertWithAChildBlockedOnAFifo", stops_at_an_assert},
                {"WaitsAnHourForAChild", waits_an_hour},
                {"SleepsAnHourWhereNoKillHelps", sleeps_an_hour}};
  for (const auto& c : checks)
    ::testing::RegisterTest("SelfCheck", c.name, nullptr, nullptr, __FILE__, __LINE__,
                            [body = c.body]() -> SelfCheck* { return new SelfCheck(body); });
}

}  // namespace cgscope::testing
