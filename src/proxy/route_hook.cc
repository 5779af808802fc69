#include "proxy/route_hook.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "core/pinned_hooks.h"
#include "core/unique_fd.h"
#include "proxy_route.skel.h"

namespace cgscope::proxy {
namespace {

constexpr const char* kLinkName = "link_sock_create";
constexpr const char* kConfigMap = "route_config";  // the record
constexpr const char* kStatsMap = "route_stats";

std::string pin_path(const std::string& dir, const char* name) { return dir + "/" + name; }

}  // namespace

std::string route_pin_dir_for(uint64_t cgroup_id) { return fmt::format("/sys/fs/bpf/cgscope/route-{}", cgroup_id); }

struct RouteHook::Impl {
  proxy_route_bpf* skel = nullptr;
  std::string dir;
  ~Impl() {
    if (skel) proxy_route_bpf__destroy(skel);
  }
};

RouteHook::RouteHook(RouteHook&&) noexcept = default;
RouteHook& RouteHook::operator=(RouteHook&&) noexcept = default;
RouteHook::~RouteHook() = default;

Result<RouteHook> RouteHook::load(const std::string& pin_dir) {
  RouteHook h;
  h.impl_ = std::make_unique<Impl>();
  h.impl_->dir = pin_dir;
  if (auto r = make_pin_dir(pin_dir); !r) return fail_with(r.error());
  auto* skel = h.impl_->skel = proxy_route_bpf__open();
  if (!skel) return fail_errno("opening the route BPF object", errno);
  if (auto r = pin_maps_in(skel->obj, pin_dir); !r) return fail_with(r.error());
  if (proxy_route_bpf__load(skel) != 0) return fail_errno("loading the route program (cgroup/sock_create)", errno);
  return h;
}

Result<void> RouteHook::write_record(const cgs_route_config& rec) {
  uint32_t zero = 0;
  if (bpf_map__update_elem(impl_->skel->maps.route_config, &zero, sizeof zero, &rec, sizeof rec, BPF_ANY) != 0)
    return fail_errno(fmt::format("writing the route's record to {}", pin_path(impl_->dir, kConfigMap)), errno);
  return {};
}

Result<void> RouteHook::attach(const std::string& cgroup_path) {
  const PinnedHook hooks[] = {{kLinkName, impl_->skel->progs.route_sock_create}};
  return attach_pinned_hooks(impl_->dir, cgroup_path, hooks,
                             fmt::format("cgscope proxy route --pin-dir {} --remove", impl_->dir), nullptr);
}

std::array<uint64_t, CGS_ROUTE_STAT_NR> RouteHook::stats() const {
  std::array<uint64_t, CGS_ROUTE_STAT_NR> total{};
  int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(ncpu > 0 ? ncpu : 1);
  for (uint32_t i = 0; i < CGS_ROUTE_STAT_NR; i++) {
    if (bpf_map__lookup_elem(impl_->skel->maps.route_stats, &i, sizeof i, per_cpu.data(),
                             per_cpu.size() * sizeof(uint64_t), 0) != 0)
      continue;
    for (uint64_t v : per_cpu) total[i] += v;
  }
  return total;
}

bool route_pins_present(const std::string& pin_dir) {
  struct stat st;
  for (const char* name : {kLinkName, kConfigMap, kStatsMap})
    if (::stat(pin_path(pin_dir, name).c_str(), &st) == 0) return true;
  return false;
}

Result<std::optional<cgs_route_config>> read_route_record(const std::string& pin_dir) {
  std::string path = pin_path(pin_dir, kConfigMap);
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd && errno == ENOENT) return std::optional<cgs_route_config>();
  if (!fd) return fail_errno(fmt::format("opening {}", path), errno);
  cgs_route_config rec{};
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(fd.get(), &zero, &rec) != 0) return fail_errno(fmt::format("reading {}", path), errno);
  return std::optional<cgs_route_config>(rec);
}

Result<void> detach_route_hook(const std::string& pin_dir, std::vector<std::string>& removed) {
  const std::string links[] = {kLinkName};
  return detach_pinned_links(pin_dir, links, removed);
}

Result<void> unpin_route_record(const std::string& pin_dir, std::vector<std::string>& removed) {
  for (const char* name : {kStatsMap, kConfigMap}) {
    std::string p = pin_path(pin_dir, name);
    if (::unlink(p.c_str()) == 0)
      removed.push_back(name);
    else if (errno != ENOENT)
      return fail_errno(fmt::format("removing {}", p), errno);
  }
  if (::rmdir(pin_dir.c_str()) != 0 && errno != ENOENT)
    return fail_errno(fmt::format("removing {} (something else is pinned there?)", pin_dir), errno);
  ::rmdir("/sys/fs/bpf/cgscope");  // shared with the other jobs: only if empty
  return {};
}

}  // namespace cgscope::proxy
