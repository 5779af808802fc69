// The profile parser of `cgscope seccomp run` (seccomp/profile_json.h): the
// subset it takes, the fields it refuses by name, and the round trip with the
// writer of `cgscope trace --seccomp-profile`.
#include <set>

#include <gtest/gtest.h>

#include "seccomp/profile_json.h"
#include "trace/seccomp_profile.h"

namespace cgscope::seccomp {
namespace {

// The error of parsing `text`, or "" if it parsed.
std::string error_of(std::string_view text) {
  auto p = parse_profile_json(text);
  return p ? "" : p.error().message;
}

TEST(SeccompProfileJson, RoundTripGivesTheSameSet) {
  const std::string x64(trace::kScmpArchX86_64);
  trace::SyscallUses used{{x64, "read"}, {x64, "write"}, {x64, "execve"}, {x64, "mseal"}};
  auto p = parse_profile_json(trace::seccomp_profile_json(used));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->default_action, (Action{ActionKind::errno_ret, 1}));
  trace::SyscallUses back;
  for (const auto& arch : p->architectures)
    for (const auto& rule : p->rules) {
      EXPECT_EQ(rule.action.kind, ActionKind::allow);
      for (const auto& n : rule.names) back.emplace(arch, n);
    }
  EXPECT_EQ(back, used);
  EXPECT_TRUE(p->action_for("execve").lets_run());
  EXPECT_FALSE(p->action_for("mkdir").lets_run());
}

TEST(SeccompProfileJson, TheSubset) {
  auto p = parse_profile_json(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
      {"names": ["mkdir", "rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "no dirs",
       "args": [], "includes": {}, "excludes": {}},
      {"names": ["reboot"], "action": "SCMP_ACT_KILL_PROCESS"},
      {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
    ]})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->default_action.kind, ActionKind::allow);
  EXPECT_EQ(p->architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}));
  ASSERT_EQ(p->rules.size(), 3u);
  EXPECT_EQ(p->action_for("rmdir"), (Action{ActionKind::errno_ret, 13}));
  EXPECT_EQ(p->action_for("reboot").kind, ActionKind::kill_process);
  EXPECT_EQ(p->action_for("read").kind, ActionKind::allow);
}

TEST(SeccompProfileJson, ErrnoDefaultsToEperm) {
  auto p = parse_profile_json(R"({"defaultAction": "SCMP_ACT_ERRNO",
                                  "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->default_action.errno_ret, 1);
  EXPECT_EQ(p->rules[0].action.errno_ret, 1);
  auto with = parse_profile_json(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38})");
  ASSERT_TRUE(with) << with.error().message;
  EXPECT_EQ(with->default_action.errno_ret, 38);
}

// What the loader cannot do is refused, naming the field: ignoring it would allow
// more than the profile says.
TEST(SeccompProfileJson, RefusesWhatItDoesNotSupportNamingTheField) {
  struct Case {
    const char* text;
    const char* error_starts;
  } cases[] = {
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
          "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]})",
       "syscalls[0].args: argument conditions are not supported"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW",
          "includes": {"minKernel": "4.8"}}]})",
       "syscalls[0].includes: includes/excludes"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]})",
       "syscalls[1].excludes: includes/excludes"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})", "archMap:"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_LOG"]})", "flags:"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/l.sock"})", "listenerPath:"},
      {R"({"defaultAction": "SCMP_ACT_NOTIFY"})", "defaultAction: SCMP_ACT_NOTIFY is not supported"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_TRACE"}]})",
       "syscalls[0].action: SCMP_ACT_TRACE is not supported"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW"}]})",
       "syscalls[0].name: the old one-name form"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "seccomp": 1})", "seccomp: unknown field"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
          "errnoRet": 1}]})",
       "syscalls[0].errnoRet: only SCMP_ACT_ERRNO"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000})", "defaultErrnoRet: an errno from 0"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1})", "defaultErrnoRet: an errno from 0"},
      {R"({"defaultAction": "SCMP_ACT_ALOW"})", "defaultAction: unknown action \"SCMP_ACT_ALOW\""},
      {R"({"syscalls": []})", "defaultAction: missing"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["x86_64"]})", "architectures[0]:"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]})",
       "syscalls[0].names: a list of syscall names"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "Read;"], "action": "SCMP_ACT_ALLOW"}]})",
       "syscalls[0].names[1]: not a syscall name"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]})", "syscalls[0]: no \"action\""},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["write", "read"], "action": "SCMP_ACT_KILL"}]})",
       "syscalls[1]: \"read\" is also in syscalls[0], with another action"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultAction": "SCMP_ACT_ALLOW"})",
       "the key \"defaultAction\" is given twice"},
      {R"([1, 2])", "the profile is not a JSON object"},
      {R"({"defaultAction": )", "not valid JSON"},
      {"", "not valid JSON"},
  };
  for (const auto& c : cases) {
    std::string err = error_of(c.text);
    EXPECT_EQ(err.rfind(c.error_starts, 0), 0u) << c.text << "\n gave: " << (err.empty() ? "(parsed)" : err);
  }
}

TEST(SeccompProfileJson, DeepNestingIsRefusedNotRecursedInto) {
  std::string deep = R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": )" + std::string(10000, '[') +
                     std::string(10000, ']') + "}";
  EXPECT_NE(error_of(deep).find("nested deeper than"), std::string::npos) << error_of(deep);
}

}  // namespace
}  // namespace cgscope::seccomp
