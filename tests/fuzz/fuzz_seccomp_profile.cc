// libFuzzer target: parse_profile_json reads the profile files of `cgscope seccomp
// run`. Any input must give a profile or one error line, never a crash, a hang,
// an exception or a deep recursion; a profile it gives must hold together: every
// name a syscall name, no name with two actions, errnos in range, and written back
// (its allowed names) through the trace's writer it parses to the same set.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string_view>

#include "seccomp/profile_json.h"
#include "trace/seccomp_profile.h"

using cgscope::seccomp::Action;
using cgscope::seccomp::ActionKind;
using cgscope::seccomp::parse_profile_json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = parse_profile_json(text);
  if (!p) {
    const std::string& m = p.error().message;
    if (m.empty() || m.find('\n') != std::string::npos) __builtin_trap();
    return 0;
  }
  std::map<std::string, Action> seen;
  cgscope::trace::SyscallUses allowed;
  for (const auto& rule : p->rules) {
    if (rule.names.empty() || rule.action.errno_ret > 4095) __builtin_trap();
    for (const auto& n : rule.names) {
      if (n.empty() || n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
        __builtin_trap();
      auto [it, fresh] = seen.emplace(n, rule.action);
      if (!fresh && !(it->second == rule.action)) __builtin_trap();
      if (!(p->action_for(n) == rule.action)) __builtin_trap();
      if (rule.action.kind == ActionKind::allow) allowed.emplace("SCMP_ARCH_X86_64", n);
    }
  }
  auto back = parse_profile_json(cgscope::trace::seccomp_profile_json(allowed));
  if (!back) __builtin_trap();
  cgscope::trace::SyscallUses again;
  for (const auto& rule : back->rules)
    for (const auto& n : rule.names) again.emplace("SCMP_ARCH_X86_64", n);
  if (again != allowed) __builtin_trap();
  return 0;
}
