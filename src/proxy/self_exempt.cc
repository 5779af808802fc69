#include "proxy/self_exempt.h"

#include <unistd.h>

#include "core/cgroup2.h"

namespace cgscope::proxy {
namespace {

// The initial pid namespace's inode (PROC_PID_INIT_INO): only there is
// getpid() the pid that bpf_get_current_pid_tgid() gives the hooks.
constexpr const char* kInitPidNs = "pid:[4026531836]";

bool in_initial_pid_ns() {
  char buf[64];
  ssize_t n = ::readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
  if (n <= 0) return false;
  return std::string(buf, static_cast<size_t>(n)) == kInitPidNs;
}

}  // namespace

bool cgroup_within(const std::string& rel, const std::string& ancestor) {
  if (ancestor == "/" || rel == ancestor) return true;
  return rel.size() > ancestor.size() && rel.compare(0, ancestor.size(), ancestor) == 0 && rel[ancestor.size()] == '/';
}

SelfExempt self_exempt(const std::string& mount, const std::string& cgroup_abs) {
  SelfExempt e;
  if (!in_initial_pid_ns()) return e;
  auto own = cgroup_of_pid(::getpid());
  if (!own) return e;  // not known: exempt every socket
  e.own_pid = static_cast<uint32_t>(::getpid());
  e.needed = cgroup_within(*own, relative_cgroup_path(mount, cgroup_abs));
  return e;
}

}  // namespace cgscope::proxy
