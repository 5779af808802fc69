#include "trace/seccomp_profile.h"

#include <nlohmann/json.hpp>

namespace cgscope::trace {

std::string seccomp_profile_json(const SyscallUses& used) {
  // The names go in one list for all the architectures: the format has no way to
  // tie a name to one architecture (an entry's "includes": {"arches": [...]} is
  // matched against the host's architecture, not the call's). So an ia32 call
  // adds "SCMP_ARCH_X86" here and its name (from the ia32 table) joins the list:
  // a name seen on either architecture is then allowed on both, the closest the
  // format comes.
  std::set<std::string> arches, names;
  for (const auto& [arch, name] : used) {
    arches.insert(arch);
    names.insert(name);
  }
  nlohmann::ordered_json allow;
  allow["names"] = names;
  allow["action"] = "SCMP_ACT_ALLOW";
  nlohmann::ordered_json profile;
  profile["defaultAction"] = "SCMP_ACT_ERRNO";
  profile["defaultErrnoRet"] = kDeniedErrno;
  // "architectures", not moby's "archMap": archMap picks its entry by the host's
  // architecture, while these are the architectures the calls were seen on.
  profile["architectures"] = arches;
  profile["syscalls"] = nlohmann::ordered_json::array();
  if (!names.empty()) profile["syscalls"].push_back(std::move(allow));
  return profile.dump(2) + "\n";
}

}  // namespace cgscope::trace
