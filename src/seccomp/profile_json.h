// A seccomp profile in the Docker/OCI JSON format, the subset `cgscope seccomp
// run` loads: whole syscalls allowed or denied by name.
//
//   {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
//    "architectures": ["SCMP_ARCH_X86_64"],
//    "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
//                 {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
//
// Whatever else the format has (argument conditions, includes/excludes,
// archMap, flags, a listener, the NOTIFY and TRACE actions) is refused with an
// error naming the field: ignoring it could allow more than the profile says.
// The file is outside input: the parser never throws and never crashes
// (tests/fuzz/fuzz_seccomp_profile.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cgscope::seccomp {

enum class ActionKind { allow, log, errno_ret, trap, kill_thread, kill_process };

struct Action {
  ActionKind kind = ActionKind::errno_ret;
  uint16_t errno_ret = 1;  // only for errno_ret: what the call returns (-errno)
  bool operator==(const Action&) const = default;
  // allow and log let the call run.
  bool lets_run() const { return kind == ActionKind::allow || kind == ActionKind::log; }
};

struct Rule {
  std::vector<std::string> names;
  Action action;
};

struct Profile {
  Action default_action;
  std::vector<std::string> architectures;  // as written: "SCMP_ARCH_X86_64"
  std::vector<Rule> rules;                 // one per syscalls[] entry, in order

  // The action for `name`: its rule's, else the default. A name is in at most
  // one action (the parser refuses a name given two).
  Action action_for(std::string_view name) const;
};

// Parses the JSON text. Errors are "FIELD: what is wrong", the field as a path
// ("syscalls[2].args"); the caller puts the file name in front.
Result<Profile> parse_profile_json(std::string_view text);

// "SCMP_ACT_ERRNO" and so on, as the format spells an action's kind.
std::string_view action_name(ActionKind kind);

}  // namespace cgscope::seccomp
