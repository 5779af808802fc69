// Issue 10: syscalls made through the ia32 entry (`int $0x80` from a 64-bit
// program, tests/workload/ia32_int80.c) are traced, named from the ia32 table,
// and filtered like x86_64 ones. strace is the reference: between its
// "[ Process PID=N runs in 32 bit mode. ]" and "... 64 bit mode" lines it shows
// the ia32 calls, and cgscope must show the same calls with the same arguments.
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "core/command_path.h"
#include "trace_harness.h"

namespace cgscope::testing {
namespace {

// One token per run, so that the execve's argv is this run's.
std::string token() { return "tok" + std::to_string(::getpid()) + "x" + std::to_string(::time(nullptr) % 100000); }

struct StraceLine {
  std::string name, args, ret;
};

// The calls strace printed while the process ran in 32-bit mode.
std::vector<StraceLine> strace_ia32_calls(const std::string& output) {
  static const std::regex call(R"(^(?:\[pid\s+\d+\] )?([a-z_0-9]+)\((.*)\)\s+= (.*)$)");
  std::vector<StraceLine> out;
  std::istringstream in(output);
  std::string line;
  bool in32 = false;
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.find("runs in 32 bit mode") != std::string::npos) in32 = true;
    else if (line.find("runs in 64 bit mode") != std::string::npos) in32 = false;
    else if (in32 && std::regex_match(line, m, call)) out.push_back({m[1], m[2], m[3]});
  }
  return out;
}

std::vector<nlohmann::json> ia32_events(const TraceRun& run) {
  std::vector<nlohmann::json> out;
  for (const auto& e : run.events)
    if (e.value("abi", "") == "ia32") out.push_back(e);
  return out;
}

class TraceIa32 : public ::testing::Test {
 protected:
  TraceRun trace(std::vector<std::string> args, const std::string& tok) {
    args.insert(args.end(), {"--", CGSCOPE_IA32_INT80, tok});
    auto run = trace_command(args);
    EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
    EXPECT_NE(run.stderr_text.find(" 0 lost"), std::string::npos) << run.stderr_text;
    return run;
  }
};

TEST_F(TraceIa32, IntEightyCallsMatchStrace) {
  auto strace = resolve_command("strace");
  if (!strace) GTEST_SKIP() << "strace is not installed (scripts/install-deps.sh installs it)";
  std::string tok = token();
  // strace's own stderr: the mode lines are not written with -o.
  auto r = run({"/bin/sh", "-c", "exec " + *strace + " -f " CGSCOPE_IA32_INT80 " " + tok + " >/dev/null"}, 60s);
  ASSERT_EQ(r.code, 0) << r.output;
  auto s = strace_ia32_calls(r.output);
  std::vector<std::string> s_names;
  for (const auto& c : s) s_names.push_back(c.name);
  ASSERT_EQ(s_names, (std::vector<std::string>{"open", "read", "write", "close", "execve"})) << r.output;

  auto c = ia32_events(trace({"-e", "all"}, tok));
  std::vector<std::string> c_names;
  for (const auto& e : c) c_names.push_back(e["event"]);
  ASSERT_EQ(c_names, s_names) << "cgscope's ia32 calls differ from strace's";
  std::vector<int> ids;
  for (const auto& e : c) ids.push_back(e["id"]);
  EXPECT_EQ(ids, (std::vector<int>{5, 3, 4, 6, 11})) << "the i386 numbers";

  // open("/etc/hostname", O_RDONLY) = FD
  EXPECT_EQ(s[0].args, "\"/etc/hostname\", O_RDONLY");
  EXPECT_EQ(c[0]["args"]["filename"], "/etc/hostname");
  EXPECT_EQ(c[0]["args"]["flags"], "O_RDONLY");
  EXPECT_EQ(std::to_string(c[0]["ret"].get<int64_t>()), s[0].ret);
  // read(FD, "...", 256) = N, write(1, "...", N) = N
  EXPECT_EQ(std::to_string(c[1]["args"]["fd"].get<int64_t>()) + ",", s[1].args.substr(0, s[1].args.find(',') + 1));
  EXPECT_EQ(c[1]["args"]["count"], 256);
  EXPECT_TRUE(s[1].args.ends_with(", 256")) << s[1].args;
  EXPECT_EQ(std::to_string(c[1]["ret"].get<int64_t>()), s[1].ret);
  EXPECT_EQ(c[2]["args"]["fd"], 1);
  EXPECT_EQ(c[2]["args"]["count"], c[1]["ret"]);
  EXPECT_EQ(std::to_string(c[2]["ret"].get<int64_t>()), s[2].ret);
  // execve("/bin/echo", ["/bin/echo", "ia32-exec", TOKEN], ...) = 0
  EXPECT_TRUE(s[4].args.starts_with("\"/bin/echo\", [\"/bin/echo\", \"ia32-exec\", \"" + tok + "\"]")) << s[4].args;
  EXPECT_EQ(c[4]["args"]["filename"], "/bin/echo");
  EXPECT_EQ(c[4]["args"]["argv"], (nlohmann::json{"/bin/echo", "ia32-exec", tok}));
  EXPECT_EQ(c[4]["ret"], 0);
}

// The issue's case: with no -e, the open of the file and the execve are shown.
TEST_F(TraceIa32, DefaultSelectionShowsTheEvasion) {
  std::string tok = token();
  auto c = ia32_events(trace({}, tok));
  std::vector<std::string> names;
  for (const auto& e : c) names.push_back(e["event"]);
  EXPECT_EQ(names, (std::vector<std::string>{"open", "execve"}));
}

TEST_F(TraceIa32, FiltersNameOneTableOrBoth) {
  std::string tok = token();
  // ia32:open: that call only, not the x86_64 opens of /bin/echo's loader.
  auto only32 = trace({"-e", "ia32:open"}, tok);
  std::vector<std::string> names;
  for (const auto& e : only32.events)
    if (e["id"].get<int>() < 1000) names.push_back(e.value("abi", "x86_64") + ":" + e["event"].get<std::string>());
  EXPECT_EQ(names, (std::vector<std::string>{"ia32:open"}));
  // x86_64:openat: the loader's, no ia32 call at all.
  auto only64 = trace({"-e", "x86_64:openat,x86_64:open"}, tok);
  EXPECT_TRUE(ia32_events(only64).empty());
  EXPECT_FALSE(only64.named("openat").empty());
  // A plain name matches both tables; a negated ia32: name removes its half.
  auto both = trace({"-e", "open,openat,read,!ia32:read"}, tok);
  std::vector<std::string> both32;
  for (const auto& e : ia32_events(both)) both32.push_back(e["event"]);
  EXPECT_EQ(both32, (std::vector<std::string>{"open"}));
  EXPECT_FALSE(both.named("openat").empty());
  EXPECT_FALSE(both.named("read").empty());  // the loader's x86_64 reads
}

// The workload's int 0x80 execve runs /bin/echo, a 64-bit program: the kernel
// renumbers the call to x86_64's execve on its way out, and its exit must still
// end the ia32 entry when only the ia32 execve is selected.
TEST_F(TraceIa32, AnExecveThatChangesTheAbiIsShownWithOnlyItsOwnAbiSelected) {
  std::string tok = token();
  auto run = trace({"-e", "ia32:execve"}, tok);
  std::vector<nlohmann::json> execs;
  for (const auto& e : run.events)
    if (e["id"].get<int>() < 1000) execs.push_back(e);
  ASSERT_EQ(execs.size(), 1u) << run.stderr_text;
  EXPECT_EQ(execs[0].value("abi", ""), "ia32") << execs[0].dump();
  EXPECT_EQ(execs[0]["event"], "execve");
  EXPECT_EQ(execs[0]["ret"], 0) << execs[0].dump();
}

// --summary of ia32 calls alone: counted in the kernel like x86_64 ones.
TEST_F(TraceIa32, SummaryOfIa32CallsAlone) {
  std::string tok = token();
  auto run = trace({"--summary", "-e", "ia32:open,ia32:read"}, tok);
  const nlohmann::json* sum = nullptr;
  for (const auto& e : run.events)
    if (e.contains("summary")) sum = &e;
  ASSERT_NE(sum, nullptr) << run.stderr_text;
  std::map<std::string, int64_t> calls;
  for (const auto& r : (*sum)["summary"]) calls[r["syscall"].get<std::string>()] = r["calls"].get<int64_t>();
  EXPECT_EQ(calls, (std::map<std::string, int64_t>{{"ia32:open", 1}, {"ia32:read", 1}})) << sum->dump();
}

// A 32-bit program: all its calls are ia32 ones, exit_group (sent at entry) too.
TEST(TraceIa32Native, AThirtyTwoBitProgramIsTracedWithTheIa32Table) {
  if (std::string(CGSCOPE_IA32_NATIVE).empty()) GTEST_SKIP() << "the compiler cannot make i386 programs";
  auto run = trace_command({"-e", "all", "--", CGSCOPE_IA32_NATIVE});
  EXPECT_EQ(run.exit_code, 7) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find(" 0 lost"), std::string::npos) << run.stderr_text;
  std::vector<std::string> names;
  for (const auto& e : ia32_events(run)) names.push_back(e["event"]);
  EXPECT_EQ(names, (std::vector<std::string>{"open", "read", "write", "exit_group"}));
  auto c = ia32_events(run);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0]["args"]["filename"], "/etc/hostname");
  EXPECT_EQ(c[3]["args"]["error_code"], 7);
  EXPECT_EQ(c[3]["id"], 252);
}

// A seccomp profile of the run allows the ia32 calls under SCMP_ARCH_X86.
TEST_F(TraceIa32, SeccompProfileListsTheX86Architecture) {
  TempPath profile("ia32-profile.json");
  trace({"--seccomp-profile", profile.path}, token());
  std::ifstream in(profile.path);
  auto j = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["architectures"], (nlohmann::json{"SCMP_ARCH_X86", "SCMP_ARCH_X86_64"}));
  auto names = j["syscalls"][0]["names"];
  for (const char* n : {"open", "read", "write", "close", "execve", "sigreturn", "openat"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
}

}  // namespace
}  // namespace cgscope::testing
