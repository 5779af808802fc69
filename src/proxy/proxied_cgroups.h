// The cgroups that cgscope proxies have hooks on (their pin dirs under
// /sys/fs/bpf/cgscope, one per cgroup id, hooks.h), for a job that has to
// compose with them: `lb apply` on a cgroup at or above a proxied one would run
// after the proxy's hook (core/hook_order.h) and says so.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cgscope::proxy {

struct ProxiedCgroup {
  uint64_t id = 0;
  std::string path;  // absolute, under the cgroup2 mount
  std::string pin_dir;
  bool running = false;  // a cgscope proxy holds the pins (else a killed one's, fail closed)
};

// Every proxied cgroup that still exists, under the cgroup2 `mount`.
std::vector<ProxiedCgroup> proxied_cgroups(const std::string& mount);

// One warning per proxied cgroup strictly below `lb_cgroup` (absolute) whose
// proxy hook runs before lb's there: naming that cgroup, what happens to the
// proxied programs' connects to lb's services, and the fix. (lb on the proxy's
// own cgroup is core/hook_order.h's lb_proxy_order_problem.)
std::vector<std::string> lb_above_proxy_warnings(const std::string& mount, const std::string& lb_cgroup);

}  // namespace cgscope::proxy
