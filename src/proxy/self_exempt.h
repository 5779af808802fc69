// Whether the proxy's hooks can see cgscope's own sockets. They run only for
// sockets made in the proxied cgroup or below it; a `proxy run` cgroup is made
// for CMD, and an attached one usually holds other processes, so most runs
// need no exempt for the relay's upstream sockets (two syscalls a connection:
// SO_COOKIE and the map update). If cgscope is moved in later, its first
// redirected connect comes back to the relay recorded with cgscope's own pid;
// the relay refuses it as a loop and from then on exempts every socket. That
// check needs the pid the hooks record (the initial pid namespace's), so in
// another pid namespace every socket is exempted, as before.
#pragma once

#include <cstdint>
#include <string>

namespace cgscope::proxy {

struct SelfExempt {
  uint32_t own_pid = 0;  // cgscope's pid as the hooks record it; 0: unknown
  bool needed = true;    // exempt each relay socket from the start
};

// For the proxied cgroup at `cgroup_abs` under the cgroup2 `mount`.
SelfExempt self_exempt(const std::string& mount, const std::string& cgroup_abs);

// Whether cgroup `rel` is `ancestor` or below it (both relative to the mount,
// "/" the root).
bool cgroup_within(const std::string& rel, const std::string& ancestor);

}  // namespace cgscope::proxy
