// In which order the BPF programs on a cgroup's hook run, and what that means
// when lb and proxy share a cgroup. The kernel runs a cgroup's own programs in
// the order they were attached, then its parent's, and so on up: the program of
// the deepest cgroup, and of two on one cgroup the older, sees a connect first.
//
// lb and proxy compose in one order only: lb first (the connect to a service
// address is balanced to a backend), then proxy (the backend is dialled through
// the upstream). The other order sends the service address itself to the
// upstream, which cannot balance it. So lb must be applied to the cgroup before
// the proxy attaches, or to a cgroup below the proxy's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace cgscope {

// The names of the programs on `cgroup_path`'s connect4 hook as they run
// (BPF_F_QUERY_EFFECTIVE: the cgroup's and its ancestors').
Result<std::vector<std::string>> effective_connect4_programs(const std::string& cgroup_path);

// Whether a proxy's connect4 runs before an lb's on `cgroup_path` (both there,
// effective); false when either is missing or the programs cannot be read.
bool proxy_runs_before_lb(const std::string& cgroup_path);

// One sentence when a proxy's connect4 runs before an lb's on `cgroup_path`
// (then lb's services are not balanced for the proxied programs); nullopt when
// the order is right or only one of them is there.
std::optional<std::string> lb_proxy_order_problem(const std::string& cgroup_path);

}  // namespace cgscope
