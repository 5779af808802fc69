// Seccomp profiles from a trace, end to end on this host: `cgscope trace
// --seccomp-profile` of a command, then `cgscope seccomp run` of the same command
// under the profile (the same output), and of one that also calls what the
// traced run did not (EPERM). The Docker round trip is seccomp_docker_test.cc.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "trace_harness.h"

namespace cgscope::testing {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The names a profile allows (every SCMP_ACT_ALLOW entry).
std::set<std::string> allowed_names(const std::string& profile_path) {
  std::set<std::string> names;
  auto j = nlohmann::json::parse(read_text(profile_path), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << profile_path << " is not JSON";
  if (j.is_discarded()) return names;
  for (const auto& entry : j["syscalls"])
    if (entry["action"] == "SCMP_ACT_ALLOW")
      for (const auto& n : entry["names"]) names.insert(n.get<std::string>());
  return names;
}

// A directory of the test's: the file the command writes, the profile, the events.
class SeccompRun : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(std::filesystem::create_directory(dir_.path)); }

  // `cgscope seccomp run PROFILE -- argv`, its output and exit code.
  RunResult under_profile(const std::vector<std::string>& argv, const std::string& prof = "") {
    std::vector<std::string> full{CGSCOPE_BIN, "seccomp", "run", prof.empty() ? profile() : prof, "--"};
    full.insert(full.end(), argv.begin(), argv.end());
    return run(full);
  }
  std::string path(const std::string& name) const { return dir_.path + "/" + name; }
  std::string profile() const { return path("profile.json"); }

  TempPath dir_{"seccomp"};
};

TEST_F(SeccompRun, TheTracedCommandRunsUnderItsProfileAndAnythingElseGetsEperm) {
  const std::string cmd = fmt::format("echo hi > {0}; cat {0}", path("f"));
  // CMD's output and cgscope's lines (stderr) share the pipe, in either order.
  auto traced = run({CGSCOPE_BIN, "trace", "--seccomp-profile", profile(), "-o", "json", "--output-file",
                     path("events"), "-e", "execve", "--", "sh", "-c", cmd},
                    kTraceFinishLimit);
  ASSERT_EQ(traced.code, 0) << traced.output;
  EXPECT_NE(("\n" + traced.output).find("\nhi\n"), std::string::npos) << traced.output;
  EXPECT_NE(traced.output.find("cgscope: wrote the seccomp profile " + profile()), std::string::npos)
      << traced.output;

  auto names = allowed_names(profile());
  // What sh, its fork and cat call, and what starts them, whatever -e showed.
  for (const char* n : {"execve", "openat", "write", "read", "close", "mmap", "exit_group", "wait4"})
    EXPECT_TRUE(names.count(n)) << n << " is not in the profile: " << read_text(profile());
  // The trace cannot see it, and any handled signal needs it.
  EXPECT_TRUE(names.count("rt_sigreturn"));
  EXPECT_FALSE(names.count("mkdir"));
  // The stream is still -e's: only execve (sh, then cat).
  std::istringstream events(read_text(path("events")));
  int execs = 0;
  for (std::string line; std::getline(events, line);) {
    auto e = nlohmann::json::parse(line);
    EXPECT_EQ(e["event"], "execve") << line;
    execs++;
  }
  EXPECT_EQ(execs, 2);

  std::filesystem::remove(path("f"));
  auto same = under_profile({"sh", "-c", cmd});
  EXPECT_EQ(same.code, 0) << same.output;
  EXPECT_EQ(same.output, "hi\n");

  // mkdir was not in the traced run: under the profile it fails with EPERM.
  auto more = under_profile({"sh", "-c", cmd + "; mkdir " + path("d")});
  EXPECT_EQ(more.code, 1) << more.output;
  EXPECT_EQ(more.output.rfind("hi\n", 0), 0u) << more.output;
  EXPECT_NE(more.output.find("mkdir: cannot create directory"), std::string::npos) << more.output;
  EXPECT_NE(more.output.find("Operation not permitted"), std::string::npos) << more.output;
  EXPECT_FALSE(std::filesystem::exists(path("d")));
  // Without the profile the same mkdir works: the EPERM was the profile's.
  auto free = run({"sh", "-c", cmd + "; mkdir " + path("d")});
  EXPECT_EQ(free.code, 0) << free.output;
  EXPECT_TRUE(std::filesystem::is_directory(path("d")));
}

// -x still shows only failures, while the profile has the calls that succeeded.
TEST_F(SeccompRun, FailedOnlyStreamWithAFullProfile) {
  auto traced = run({CGSCOPE_BIN, "trace", "-x", "--seccomp-profile", profile(), "-o", "json", "--output-file",
                     path("events"), "-e", "set:fs", "--", "cat", path("missing")},
                    kTraceFinishLimit);
  ASSERT_EQ(traced.code, 1) << traced.output;
  std::istringstream events(read_text(path("events")));
  bool saw_open = false;
  for (std::string line; std::getline(events, line);) {
    auto e = nlohmann::json::parse(line);
    if (e["ret"].is_number()) EXPECT_LT(e["ret"].get<int64_t>(), 0) << line;
    saw_open |= e["event"] == "openat" && e["args"]["filename"] == path("missing");
  }
  EXPECT_TRUE(saw_open) << read_text(path("events"));
  auto names = allowed_names(profile());
  for (const char* n : {"execve", "mmap", "write", "exit_group"}) EXPECT_TRUE(names.count(n)) << n;
  // And the profile runs it: the same failure, the same message.
  auto again = under_profile({"cat", path("missing")});
  EXPECT_EQ(again.code, 1) << again.output;
  EXPECT_NE(again.output.find("No such file or directory"), std::string::npos) << again.output;
}

TEST_F(SeccompRun, AnUnwritableProfilePathIsRefusedBeforeTheCommandRuns) {
  auto r = run({CGSCOPE_BIN, "trace", "--seccomp-profile", path("no-such-dir/p.json"), "--", "touch", path("ran")});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--seccomp-profile " + path("no-such-dir/p.json") + ": cannot write in"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(path("ran")));
}

// The loader refuses what it cannot enforce, naming the field, and runs nothing.
TEST_F(SeccompRun, TheLoaderRefusesWhatItCannotEnforce) {
  struct Case {
    std::string json, error;
  } cases[] = {
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
          "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]}]})",
       "syscalls[0].args: argument conditions are not supported"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})",
       "the profile does not allow execve"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]})",
       "syscalls[0].names[0]: no syscall \"no_such_call\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]})",
       "architectures[0]: libseccomp"},
  };
  for (const auto& c : cases) {
    std::ofstream(path("bad.json")) << c.json;
    auto r = under_profile({"touch", path("ran")}, path("bad.json"));
    EXPECT_EQ(r.code, 2) << c.json << "\n" << r.output;
    EXPECT_NE(r.output.find("cgscope seccomp run: " + path("bad.json") + ": " + c.error), std::string::npos)
        << r.output;
    EXPECT_FALSE(std::filesystem::exists(path("ran")));
  }
}

// Names the kernel has and this libseccomp does not (mseal: 2.5.4 predates it)
// are placed by cgscope's table; a denied one denies.
TEST_F(SeccompRun, ErrnoRulesAndNamesNewerThanLibseccomp) {
  std::ofstream(path("p.json")) << R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["mseal"], "action": "SCMP_ACT_ERRNO"}]})";
  auto r = under_profile({"mkdir", path("d")}, path("p.json"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << r.output;  // 13: EACCES
  EXPECT_FALSE(std::filesystem::exists(path("d")));
  auto ok = under_profile({"sh", "-c", "exit 3"}, path("p.json"));
  EXPECT_EQ(ok.code, 3) << ok.output;  // CMD's own status
}

}  // namespace
}  // namespace cgscope::testing
