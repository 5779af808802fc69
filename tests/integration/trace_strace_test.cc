// cgscope trace against strace, on the same programs: a C program making a known
// set of calls with threads (tests/workload/syscall_mix.c) and a shell pipeline.
// The per-syscall counts must agree, and for the calls whose arguments cgscope
// names (fcntl commands, ioctl requests, socket options ...) the names must be
// strace's. Exceptions, as docs/trace-events.md says: rt_sigreturn (it does not
// return to its caller, and the workloads make none anyway), and futex, whose
// count is the program's timing: pthread_join waits on a futex only if the thread
// has not ended yet, and strace, which stops every thread at every call, makes
// that likelier.
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "core/command_path.h"
#include "strace_log.h"
#include "trace_harness.h"

namespace cgscope::testing {
namespace {

// Syscalls whose counts are not compared (docs/trace-events.md, "Compared with strace").
const std::set<std::string> kNotCompared = {"rt_sigreturn", "futex"};

std::map<std::string, int> strace_counts(const std::vector<StraceCall>& calls) {
  std::map<std::string, int> n;
  for (const auto& c : calls)
    if (!kNotCompared.count(c.name)) n[c.name] += c.count;
  for (auto it = n.begin(); it != n.end();) it = it->second == 0 ? n.erase(it) : std::next(it);
  return n;
}

std::map<std::string, int> cgscope_counts(const TraceRun& run) {
  std::map<std::string, int> n;
  for (const auto& e : run.events) {
    if (e["id"].get<int>() >= 1000) continue;  // lifecycle events are not syscalls
    // -ERESTARTSYS .. -ERESTART_RESTARTBLOCK: restarted by the kernel (see StraceCall::count).
    if (e["ret"].is_number() && e["ret"].get<int64_t>() <= -512 && e["ret"].get<int64_t>() >= -516) continue;
    std::string name = e["event"];
    if (!kNotCompared.count(name)) n[name]++;
  }
  return n;
}

std::string describe(const std::map<std::string, int>& a, const std::map<std::string, int>& b) {
  std::ostringstream s;
  std::set<std::string> names;
  for (auto& [k, v] : a) names.insert(k);
  for (auto& [k, v] : b) names.insert(k);
  for (const auto& k : names) {
    int x = a.count(k) ? a.at(k) : 0, y = b.count(k) ? b.at(k) : 0;
    if (x != y) s << "  " << k << ": strace " << x << ", cgscope " << y << "\n";
  }
  return s.str();
}

class TraceVsStrace : public ::testing::Test {
 protected:
  void SetUp() override {
    auto strace = resolve_command("strace");
    if (!strace) GTEST_SKIP() << "strace is not installed (scripts/install-deps.sh installs it)";
    strace_ = *strace;
  }

  std::vector<StraceCall> under_strace(const std::vector<std::string>& cmd) {
    TempPath out("strace");
    std::vector<std::string> argv{strace_, "-f", "-qq", "-o", out.path};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    auto r = run(argv, 60s);
    EXPECT_EQ(r.code, 0) << r.output;
    return parse_strace(out.path);
  }

  TraceRun under_cgscope(const std::vector<std::string>& cmd) {
    std::vector<std::string> args{"-e", "all", "--"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    auto run = trace_command(args);
    EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
    EXPECT_NE(run.stderr_text.find(" 0 lost"), std::string::npos) << run.stderr_text;
    return run;
  }

  std::string strace_;
};

TEST_F(TraceVsStrace, SyscallCountsOfAProgramWithThreadsAgree) {
  std::vector<std::string> cmd{CGSCOPE_SYSCALL_MIX};
  auto s = strace_counts(under_strace(cmd));
  auto c = cgscope_counts(under_cgscope(cmd));
  ASSERT_GT(s["getppid"], 0) << "strace saw nothing of the workload";
  EXPECT_EQ(s["getppid"], 15) << "3 threads, 5 calls each";
  EXPECT_EQ(s, c) << "per-syscall counts differ:\n" << describe(s, c);
}

TEST_F(TraceVsStrace, SyscallCountsOfAShellPipelineAgree) {
  std::vector<std::string> cmd{"/bin/sh", "-c", "echo one two | tr a-z A-Z | wc -c >/dev/null"};
  auto s = strace_counts(under_strace(cmd));
  auto c = cgscope_counts(under_cgscope(cmd));
  ASSERT_GE(s["execve"], 3) << "sh, tr and wc";
  EXPECT_EQ(s, c) << "per-syscall counts differ:\n" << describe(s, c);
}

// For each call cgscope names arguments of, the names strace printed at the same
// places (argument index in strace's line, key in cgscope's args).
struct NamedArg {
  std::string syscall;
  size_t strace_index;
  std::string key;
  bool timing = false;  // how often it is called is the program's timing: compare the names, not the counts
};
const std::vector<NamedArg> kNamedArgs = {
    {"fcntl", 1, "cmd"},          {"ioctl", 1, "cmd"},         {"lseek", 2, "whence"},
    {"access", 1, "mode"},        {"faccessat2", 2, "mode"},   {"prlimit64", 1, "resource"},
    {"rt_sigprocmask", 0, "how"}, {"setsockopt", 1, "level"},  {"setsockopt", 2, "optname"},
    {"getsockopt", 1, "level"},   {"getsockopt", 2, "optname"}, {"sendto", 3, "flags"},
    {"recvfrom", 3, "flags"},     {"pipe2", 1, "flags"},       {"dup3", 2, "flags"},
    {"futex", 1, "op", true},           {"mremap", 3, "flags"},      {"kill", 1, "sig"},
    {"arch_prctl", 0, "option"},  {"socket", 0, "family"},     {"socket", 1, "type"},
    {"mmap", 2, "prot"},          {"openat", 2, "flags"},
};

TEST_F(TraceVsStrace, NamedArgumentsAreStracesNames) {
  std::vector<std::string> cmd{CGSCOPE_SYSCALL_MIX};
  auto calls = under_strace(cmd);
  auto run = under_cgscope(cmd);
  for (const NamedArg& a : kNamedArgs) {
    std::multiset<std::string> want, got;
    for (const auto& c : calls)
      if (c.name == a.syscall && a.strace_index < c.args.size()) want.insert(c.args[a.strace_index]);
    for (const auto& e : run.named(a.syscall)) {
      const auto& v = e["args"][a.key];
      got.insert(v.is_string() ? v.get<std::string>() : v.dump());
    }
    EXPECT_FALSE(want.empty()) << a.syscall << ": the workload makes it";
    if (a.timing) {
      for (const auto& g : got) EXPECT_TRUE(want.count(g)) << a.syscall << " " << a.key << ": " << g;
      EXPECT_FALSE(got.empty()) << a.syscall << ": the workload's own call";
    } else {
      EXPECT_EQ(want, got) << a.syscall << " " << a.key;
    }
  }
  // fcntl's flag arguments and results: "F_SETFL, O_RDONLY|O_APPEND|O_NONBLOCK",
  // "= 0x800 (flags O_RDONLY|O_NONBLOCK)".
  std::multiset<std::string> want_arg, got_arg, want_ret, got_ret;
  for (const auto& c : calls) {
    if (c.name != "fcntl") continue;
    if (c.args.size() == 3 && (c.args[1] == "F_SETFL" || c.args[1] == "F_SETFD")) want_arg.insert(c.args[2]);
    if (auto p = c.ret.find(" (flags "); p != std::string::npos)
      want_ret.insert(c.ret.substr(p + 8, c.ret.size() - p - 9));
  }
  for (const auto& e : run.named("fcntl")) {
    std::string cmd_name = e["args"]["cmd"];
    if (cmd_name == "F_SETFL" || cmd_name == "F_SETFD") got_arg.insert(e["args"]["arg"].get<std::string>());
    if (e.contains("ret_text")) got_ret.insert(e["ret_text"].get<std::string>());
    if (cmd_name == "F_DUPFD_CLOEXEC") EXPECT_EQ(e["args"]["arg"], 10) << "a number, as the command reads it";
  }
  EXPECT_EQ(want_arg.size(), 2u);
  EXPECT_EQ(want_arg, got_arg);
  EXPECT_EQ(want_ret.size(), 2u);
  EXPECT_EQ(want_ret, got_ret);
}

}  // namespace
}  // namespace cgscope::testing
