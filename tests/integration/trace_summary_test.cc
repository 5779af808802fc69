// --summary, -C, -T and the signals events on real programs. The summary's calls
// and errors per syscall are compared with strace -c -f on the same program
// (with the exceptions trace_strace_test.cc documents: futex, rt_sigreturn);
// a tiny ring buffer loses records but not counts; a 50 ms sleep takes 50 ms;
// a killed child shows its SIGTERM and its parent's SIGCHLD with the right pids.
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "core/command_path.h"
#include "trace_harness.h"

namespace cgscope::testing {
namespace {

const std::set<std::string> kNotCompared = {"rt_sigreturn", "futex"};

struct Counts {
  int64_t calls = 0, errors = 0;
  bool operator==(const Counts&) const = default;
};
using CountMap = std::map<std::string, Counts>;

std::ostream& operator<<(std::ostream& o, const Counts& c) { return o << c.calls << "/" << c.errors; }

// strace -c's table: "% time seconds usecs/call calls [errors] syscall", rows
// between the dashed lines (errors blank when 0).
CountMap parse_strace_summary(const std::string& path) {
  static const std::regex row(R"(^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?([a-z_0-9]+)\s*$)");
  CountMap out;
  std::ifstream in(path);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, m, row) || m[3] == "total" || kNotCompared.count(m[3])) continue;
    out[m[3]] = Counts{std::stoll(m[1]), m[2].matched ? std::stoll(m[2]) : 0};
  }
  return out;
}

// The {"summary":[...]} line, the last of a JSON run.
const nlohmann::json* summary_of(const TraceRun& run) {
  for (auto it = run.events.rbegin(); it != run.events.rend(); ++it)
    if (it->contains("summary")) return &*it;
  return nullptr;
}

CountMap cgscope_summary(const nlohmann::json& s) {
  CountMap out;
  for (const auto& r : s["summary"]) {
    std::string name = r["syscall"];
    if (!kNotCompared.count(name)) out[name] = Counts{r["calls"].get<int64_t>(), r["errors"].get<int64_t>()};
  }
  return out;
}

std::string describe(const CountMap& a, const CountMap& b) {
  std::ostringstream s;
  std::set<std::string> names;
  for (auto& [k, v] : a) names.insert(k);
  for (auto& [k, v] : b) names.insert(k);
  for (const auto& k : names) {
    Counts x = a.count(k) ? a.at(k) : Counts{}, y = b.count(k) ? b.at(k) : Counts{};
    if (!(x == y)) s << "  " << k << ": strace " << x << ", cgscope " << y << " (calls/errors)\n";
  }
  return s.str();
}

// A fork interrupted by a signal (a SIGCHLD, more often under ptrace, which
// slows each child) fails with ERESTARTNOINTR and the kernel runs it again:
// one more call and one more error in that run only. The forks are compared by
// the ones that succeeded.
void count_forks_by_success(CountMap& m) {
  for (const char* name : {"clone", "clone3", "fork", "vfork"}) {
    auto it = m.find(name);
    if (it == m.end()) continue;
    it->second.calls -= it->second.errors;
    it->second.errors = 0;
  }
}

class TraceSummary : public ::testing::Test {
 protected:
  CountMap under_strace_c(const std::vector<std::string>& cmd) {
    auto strace = resolve_command("strace");
    if (!strace) return {};
    TempPath out("strace");
    std::vector<std::string> argv{*strace, "-c", "-f", "-qq", "-o", out.path};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    auto r = run(argv, 60s);
    EXPECT_EQ(r.code, 0) << r.output;
    return parse_strace_summary(out.path);
  }
};

TEST_F(TraceSummary, CallsAndErrorsAgreeWithStraceC) {
  if (!resolve_command("strace")) GTEST_SKIP() << "strace is not installed";
  for (std::vector<std::string> cmd : {std::vector<std::string>{CGSCOPE_SYSCALL_MIX},
                                       {"/bin/sh", "-c", "echo one two | tr a-z A-Z | wc -c >/dev/null; ls /nonexistent 2>/dev/null; true"}}) {
    auto s = under_strace_c(cmd);
    std::vector<std::string> args{"--summary", "--"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    auto run = trace_command(args);
    ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
    const nlohmann::json* sum = summary_of(run);
    ASSERT_NE(sum, nullptr) << "no {\"summary\":...} line";
    EXPECT_EQ(run.events.size(), 1u) << "--summary alone shows no events";
    auto c = cgscope_summary(*sum);
    ASSERT_GT(s["execve"].calls, 0) << "strace -c saw nothing of " << cmd[0];
    int64_t errors = 0;
    for (auto& [name, n] : s) errors += n.errors;
    EXPECT_GT(errors, 0) << "the workload fails some calls, so errors are compared too";
    count_forks_by_success(s);
    count_forks_by_success(c);
    EXPECT_EQ(s, c) << cmd[0] << ": per-syscall calls/errors differ:\n" << describe(s, c);
    // The total line adds up.
    int64_t calls = 0;
    for (const auto& r : (*sum)["summary"]) calls += r["calls"].get<int64_t>();
    EXPECT_EQ((*sum)["total"]["calls"].get<int64_t>(), calls);
  }
}

// Whether a 256K ring overflows is the machine's timing (a reader that gets a CPU
// keeps up), so larger storms are tried until one loses records; every run's
// counts must be exact.
TEST_F(TraceSummary, CountsStayExactWhenTheRingBufferLosesRecords) {
  bool lost_some = false;
  for (int calls : {400000, 1000000, 3000000}) {
    auto run = trace_command({"-C", "-e", "getppid", "--buffer-size", "256K", "--", CGSCOPE_STORM, "getppid",
                              std::to_string(calls), "2"});
    ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(run.stderr_text, m, std::regex(R"(cgscope: (\d+) events, (\d+) lost)")))
        << run.stderr_text;
    const nlohmann::json* sum = summary_of(run);
    ASSERT_NE(sum, nullptr);
    auto c = cgscope_summary(*sum);
    EXPECT_EQ(c["getppid"].calls, calls) << "counted in the kernel, whatever the ring lost";
    EXPECT_EQ(c["getppid"].errors, 0);
    EXPECT_EQ(c.size(), 1u) << "-e getppid: only it is counted";
    if (std::stoll(m[2]) > 0) {
      EXPECT_LT(int64_t(run.named("getppid").size()), calls) << "-C shows the events that made it";
      lost_some = true;
      break;
    }
  }
  EXPECT_TRUE(lost_some) << "no storm overran a 256K ring: the test proved nothing";
}

TEST_F(TraceSummary, SyscallTimesCoverASleep) {
  auto run = trace_command({"-T", "-e", "nanosleep,clock_nanosleep,execve,openat,close,mmap", "--", "/bin/sleep", "0.05"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  // Every kind of record carries it: fixed (mmap), with sections (openat), close's
  // own, and execve's joined entry and exit.
  for (const char* name : {"execve", "openat", "close", "mmap"}) {
    auto events = run.named(name);
    ASSERT_FALSE(events.empty()) << name;
    for (const auto& e : events) {
      ASSERT_TRUE(e.contains("duration_ns")) << e.dump();
      EXPECT_LT(e["duration_ns"].get<int64_t>(), 1'000'000'000) << e.dump();
    }
  }
  EXPECT_GT(run.named("execve")[0]["duration_ns"].get<int64_t>(), 0) << "an exec takes time";
  std::vector<nlohmann::json> sleeps = run.named("clock_nanosleep");
  for (const auto& e : run.named("nanosleep")) sleeps.push_back(e);
  ASSERT_EQ(sleeps.size(), 1u);
  ASSERT_TRUE(sleeps[0].contains("duration_ns")) << sleeps[0].dump();
  int64_t ns = sleeps[0]["duration_ns"];
  EXPECT_GE(ns, 50'000'000) << "a 50 ms sleep";
  EXPECT_LT(ns, 5'000'000'000) << "and not absurdly more";
}

TEST_F(TraceSummary, NoDurationsWithoutDashT) {
  auto run = trace_command({"-e", "clock_nanosleep,nanosleep", "--", "/bin/sleep", "0.01"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  ASSERT_FALSE(run.events.empty());
  for (const auto& e : run.events) EXPECT_FALSE(e.contains("duration_ns")) << e.dump();
}

// A subshell that traps SIGTERM is killed by its parent and exits 7.
TEST_F(TraceSummary, KilledChildShowsSigtermAndSigchld) {
  auto run = trace_command({"-e", "set:signals,sched_process_fork", "--", "/bin/sh", "-c",
                            "(trap 'exit 7' TERM; while :; do :; done) & sleep 0.5; kill $!; wait $!"});
  ASSERT_EQ(run.exit_code, 7) << run.stderr_text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(run.stderr_text, m, std::regex(R"(tracing /bin/sh \(pid (\d+)\))")));
  int sh = std::stoi(m[1]);
  // The subshell: the one that got SIGTERM.
  int child = -1;
  for (const auto& e : run.named("signal_generate"))
    if (e["args"]["signal"] == "SIGTERM") {
      child = e["pid"];
      EXPECT_EQ(e["args"]["sender_pid"], sh);
      EXPECT_EQ(e["args"]["pid"], sh) << "si_pid";
      EXPECT_EQ(e["args"]["code"], "SI_USER");
      EXPECT_EQ(e["args"]["result"], "delivered");
    }
  ASSERT_GT(child, 0) << "no signal_generate of SIGTERM";
  bool forked = false;
  for (const auto& e : run.named("sched_process_fork")) forked |= e["pid"] == sh && e["args"]["child_pid"] == child;
  EXPECT_TRUE(forked) << "the SIGTERM went to a child of sh";
  bool term_delivered = false, chld_generated = false, chld_delivered = false;
  for (const auto& e : run.named("signal_deliver"))
    if (e["args"]["signal"] == "SIGTERM" && e["pid"] == child) term_delivered = true;
  auto is_chld = [&](const nlohmann::json& e) {
    return e["args"]["signal"] == "SIGCHLD" && e["pid"] == sh && e["args"]["pid"] == child &&
           e["args"]["code"] == "CLD_EXITED" && e["args"]["status"] == 7;
  };
  for (const auto& e : run.named("signal_generate")) chld_generated |= is_chld(e);
  for (const auto& e : run.named("signal_deliver")) chld_delivered |= is_chld(e);
  EXPECT_TRUE(term_delivered) << "the subshell took its SIGTERM (it has a handler)";
  EXPECT_TRUE(chld_generated) << "sh was sent SIGCHLD for the subshell's exit 7";
  EXPECT_TRUE(chld_delivered);
}

}  // namespace
}  // namespace cgscope::testing
