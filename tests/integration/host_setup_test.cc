// cgscope on a host that has not mounted what it needs: the real binary, run by
// scripts/without-mounts.sh in a private mount namespace without tracefs, bpffs or
// cgroup2 (or with /sys/kernel or /sys/fs read-only, so that they cannot be
// mounted). Nothing here changes the host's own mounts: what cgscope mounts lives
// and dies with the namespace, pins included.
#include <bpf/bpf.h>
#include <fcntl.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/cgroup2.h"
#include "core/unique_fd.h"
#include "owned.h"

namespace cgscope::testing {
namespace {

constexpr auto kRunLimit = 60s;

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr together
  std::vector<nlohmann::json> events;

  bool has_event(const std::string& name, const std::function<bool(const nlohmann::json&)>& pred) const {
    for (const auto& e : events)
      if (e["event"] == name && pred(e)) return true;
    return false;
  }
};

// Runs `script` with sh in a private mount namespace shaped by `options`.
Outcome without_mounts(const std::vector<std::string>& options, const std::string& script,
                       const std::string& events_file = "") {
  std::vector<std::string> argv{CGSCOPE_WITHOUT_MOUNTS};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {"--", "sh", "-c", script});
  auto r = run(argv, kRunLimit);
  Outcome o;
  o.code = r.code.value_or(-1);
  o.output = r.output;
  if (!events_file.empty()) {
    std::ifstream in(events_file);
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
      if (!j.is_discarded()) o.events.push_back(std::move(j));
    }
  }
  return o;
}

std::string trace_cat(const std::string& events, const std::string& file) {
  return fmt::format("exec {} trace -o json --output-file {} -e openat,close,execve,exit_group -- cat {}", CGSCOPE_BIN,
                     events, file);
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// The openat of `file` and cat's execve with its argv: the trace saw the command.
void expect_traced_cat(const Outcome& o, const std::string& file) {
  EXPECT_TRUE(o.has_event("openat", [&](const auto& e) { return e["args"]["filename"] == file; })) << o.output;
  EXPECT_TRUE(o.has_event("execve", [&](const auto& e) {
    return e["args"]["argv"] == nlohmann::json::array({"cat", file}) && e["ret"] == 0;
  })) << o.output;
  EXPECT_TRUE(o.has_event("exit_group", [](const auto& e) { return e["args"]["error_code"] == 0; })) << o.output;
  // Named at its entry, by the tracepoint or, without tracefs, the generic hook.
  EXPECT_TRUE(o.has_event("close", [&](const auto& e) { return e["args"]["path"] == file; })) << o.output;
}

class HostSetup : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    std::ofstream(file_.path) << "x";
  }
  TempPath file_{"host-file"};
  TempPath events_{"host-events"};
};

TEST_F(HostSetup, TraceMountsTracefsWhereNoneIsAndSaysSo) {
  auto o = without_mounts({"--no-tracefs"}, trace_cat(events_.path, file_.path), events_.path);
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_EQ(count(o.output, "cgscope: mounted tracefs at /sys/kernel/tracing"), 1u) << o.output;
  EXPECT_EQ(count(o.output, "sys_enter hook"), 0u) << "no fallback when tracefs could be mounted: " << o.output;
  expect_traced_cat(o, file_.path);
}

TEST_F(HostSetup, TraceWhereTracefsCannotBeMountedFallsBackAndSaysWhy) {
  auto o = without_mounts({"--ro-tracefs"}, trace_cat(events_.path, file_.path), events_.path);
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("mount -t tracefs tracefs /sys/kernel/tracing"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("Read-only file system"), std::string::npos) << o.output;
  EXPECT_EQ(count(o.output, "sys_enter hook"), 1u) << o.output;
  expect_traced_cat(o, file_.path);
}

TEST_F(HostSetup, TraceMountsCgroup2WhereNoneIs) {
  auto o = without_mounts({"--no-cgroup2", "--no-tracefs"}, trace_cat(events_.path, file_.path), events_.path);
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_EQ(count(o.output, "cgscope: mounted cgroup2 at /sys/fs/cgroup"), 1u) << o.output;
  expect_traced_cat(o, file_.path);
}

// lb needs bpffs for its pins. The check that the hooks work: a service without
// endpoints is refused by the hook at once; without the hook the same connect,
// in a namespace with only lo, finds no route.
class LbHostSetup : public HostSetup {
 protected:
  void SetUp() override {
    HostSetup::SetUp();
    if (IsSkipped()) return;
    auto m = cgroup2_mount();
    ASSERT_TRUE(m) << m.error().message;
    auto cg = ScopedCgroup::create(*m, unique_name("host-lb"));
    ASSERT_TRUE(cg) << cg.error().message;
    cg_ = std::make_unique<ScopedCgroup>(std::move(*cg));
    ASSERT_TRUE(netns_.create(unique_name("host-ns")));
    std::ofstream(config_.path) << "services:\n  - name: drained\n    addresses: [10.96.7.7]\n    ports: [80]\n"
                                   "    endpoints: []\n";
  }
  // In the test's netns and cgroup, a connect to 10.96.7.7:80 and what bash said of it.
  std::string probe() const {
    // The cgroup first: `ip netns exec` mounts a sysfs of its own over /sys.
    return fmt::format("sh -c 'echo $$ > {}/cgroup.procs && exec ip netns exec {} bash -c \"exec 3<>/dev/tcp/10.96.7.7/80\"' 2>&1",
                       cg_->path(), netns_.name());
  }
  std::string lb(const std::string& args) const { return fmt::format("{} lb {}", CGSCOPE_BIN, args); }

  std::unique_ptr<ScopedCgroup> cg_;
  ScopedNetns netns_;
  TempPath config_{"host-lb.yaml"};
  const std::string pins_ = "/sys/fs/bpf/" + unique_name("host-pins");
};

TEST_F(LbHostSetup, ApplyMountsBpffsWhereNoneIsAndTheHooksWork) {
  std::string script = fmt::format(
      "set -e; {apply} --cgroup {cg} --pin-dir {pins}; echo PROBE: $({probe}); {status}; {reset}",
      fmt::arg("apply", lb("apply " + config_.path)), fmt::arg("cg", cg_->path()), fmt::arg("pins", pins_),
      fmt::arg("probe", probe()), fmt::arg("status", lb("status -o json --pin-dir " + pins_)),
      fmt::arg("reset", lb("reset --pin-dir " + pins_)));
  auto o = without_mounts({"--no-bpffs"}, script);
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_EQ(count(o.output, "cgscope: mounted bpf at /sys/fs/bpf"), 1u) << o.output;
  EXPECT_NE(o.output.find("PROBE: bash: connect: Connection refused"), std::string::npos)
      << "the hook refuses a service without endpoints: " << o.output;
  EXPECT_NE(o.output.find("\"refused\": 1"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("lb: detached the hooks and removed"), std::string::npos) << o.output;

  // And without the hooks the same connect finds no route: the probe tells them apart.
  auto bare = run({"sh", "-c", probe()}, kRunLimit);
  EXPECT_NE(bare.output.find("Network is unreachable"), std::string::npos) << bare.output;
}

TEST_F(LbHostSetup, ApplyWhereBpffsCannotBeMountedFailsInOneLineAndAttachesNothing) {
  std::string script = fmt::format("{} --cgroup {} --pin-dir {}", lb("apply " + config_.path), cg_->path(), pins_);
  auto o = without_mounts({"--ro-bpffs"}, script);
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_NE(o.output.find("mount -t bpf bpf /sys/fs/bpf"), std::string::npos) << o.output;
  EXPECT_EQ(count(o.output, "\n"), 1u) << "one line: " << o.output;

  UniqueFd cg(::open(cg_->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(cg);
  __u32 progs[8] = {}, n = 8;
  ASSERT_EQ(bpf_prog_query(cg.get(), BPF_CGROUP_INET4_CONNECT, 0, nullptr, progs, &n), 0);
  EXPECT_EQ(n, 0u) << "nothing attached to the cgroup";
}

}  // namespace
}  // namespace cgscope::testing
