#include "core/hook_order.h"

#include <fcntl.h>

#include <algorithm>

#include <bpf/bpf.h>

#include "core/unique_fd.h"

namespace cgscope {

Result<std::vector<std::string>> effective_connect4_programs(const std::string& cgroup_path) {
  UniqueFd cg(::open(cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) return fail_errno("opening the cgroup " + cgroup_path, errno);
  __u32 ids[64] = {};
  __u32 count = 64;
  __u32 flags = 0;
  if (bpf_prog_query(cg.get(), BPF_CGROUP_INET4_CONNECT, BPF_F_QUERY_EFFECTIVE, &flags, ids, &count) != 0)
    return fail_errno("querying the connect4 programs of " + cgroup_path, errno);
  std::vector<std::string> names;
  for (__u32 i = 0; i < count && i < 64; i++) {
    UniqueFd prog(bpf_prog_get_fd_by_id(ids[i]));
    bpf_prog_info info{};
    __u32 len = sizeof info;
    if (!prog || bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0) {
      names.emplace_back("?");
      continue;
    }
    names.emplace_back(info.name);
  }
  return names;
}

bool proxy_runs_before_lb(const std::string& cgroup_path) {
  auto names = effective_connect4_programs(cgroup_path);
  if (!names) return false;
  auto proxy = std::find(names->begin(), names->end(), "proxy_connect4");
  auto lb = std::find(names->begin(), names->end(), "lb_connect4");
  return proxy != names->end() && lb != names->end() && proxy < lb;
}

std::optional<std::string> lb_proxy_order_problem(const std::string& cgroup_path) {
  if (!proxy_runs_before_lb(cgroup_path)) return std::nullopt;
  return "on " + cgroup_path +
         " the proxy's hook runs before lb's, so a connect to an lb service goes to the upstream unbalanced "
         "(lb must come first: apply lb to this cgroup before the proxy attaches, or to a cgroup below it)";
}

}  // namespace cgscope
