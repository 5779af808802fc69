#include "proxy/proxied_cgroups.h"

#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/hook_order.h"
#include "proxy/hooks.h"
#include "proxy/self_exempt.h"

namespace cgscope::proxy {
namespace {

// The cgroup id a pin dir stands for, if `dir` is one (pin_dir_for's form).
std::optional<uint64_t> id_of_pin_dir(const std::filesystem::path& dir) {
  std::string name = dir.filename().string();
  size_t dash = name.rfind('-');
  if (dash == std::string::npos) return std::nullopt;
  uint64_t id = 0;
  const char* end = name.data() + name.size();
  if (std::from_chars(name.data() + dash + 1, end, id).ptr != end || pin_dir_for(id) != dir.string())
    return std::nullopt;
  return id;
}

}  // namespace

std::vector<ProxiedCgroup> proxied_cgroups(const std::string& mount) {
  std::vector<ProxiedCgroup> out;
  std::error_code ec;
  const std::filesystem::path root = std::filesystem::path(pin_dir_for(0)).parent_path();
  for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
    auto id = id_of_pin_dir(e.path());
    if (!id) continue;
    auto rel = cgroup_path_of_id(mount, *id);
    if (!rel) continue;  // gone: its pins are an orphan's, not a hook on anything
    out.push_back({*id, *rel == "/" ? mount : mount + *rel, e.path().string(), proxy_pins_in_use(e.path().string())});
  }
  return out;
}

std::vector<std::string> lb_above_proxy_warnings(const std::string& mount, const std::string& lb_cgroup) {
  std::vector<std::string> out;
  const std::string lb_rel = relative_cgroup_path(mount, lb_cgroup);
  for (const ProxiedCgroup& p : proxied_cgroups(mount)) {
    std::string rel = relative_cgroup_path(mount, p.path);
    if (rel == lb_rel || !cgroup_within(rel, lb_rel) || !proxy_runs_before_lb(p.path)) continue;
    out.push_back(fmt::format(
        "{} proxy is attached to {}, below {}: the kernel runs its hook before lb's (a cgroup's programs before "
        "its parent's), so its programs' connects to lb services go to the upstream unbalanced. To balance them, "
        "stop the proxy, apply lb to {} itself, then start the proxy again (lb must be attached first)",
        p.running ? "a running cgscope" : "a killed cgscope's (fail-closed)", p.path, lb_cgroup, p.path));
  }
  return out;
}

}  // namespace cgscope::proxy
