// The kernel side of `cgscope proxy route`: bpf/proxy_route.bpf.c loaded with its
// maps pinned in the route's pin dir, the run's record (the mark, and what the
// run adds to the routing) in the pinned config map, and the sock_create program
// attached to the cgroup through a pinned link (core/pinned_hooks.h).
//
// The pins outlive a killed run on purpose: the record is how `--remove` knows
// exactly which rule and route are the run's. They are taken away in two steps,
// the link first (no new socket is marked) and the record last (once the rule
// and the route are gone), so that an interrupted removal can be done again.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgscope/abi/proxy_route.h"
#include "core/result.h"

namespace cgscope::proxy {

// /sys/fs/bpf/cgscope/route-<cgroup id>: one per cgroup, so that several run.
std::string route_pin_dir_for(uint64_t cgroup_id);

class RouteHook {
 public:
  // Loads the program; its maps are created and pinned in `pin_dir` (made).
  static Result<RouteHook> load(const std::string& pin_dir);
  RouteHook(RouteHook&&) noexcept;
  RouteHook& operator=(RouteHook&&) noexcept;
  ~RouteHook();

  // Writes the record; its mark is what new sockets get once attached.
  Result<void> write_record(const cgs_route_config& rec);
  // Attaches the program to the cgroup (a pinned link).
  Result<void> attach(const std::string& cgroup_path);
  // Per-reason totals (enum cgs_route_stat).
  std::array<uint64_t, CGS_ROUTE_STAT_NR> stats() const;

 private:
  RouteHook() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether anything of a route is pinned in `pin_dir`.
bool route_pins_present(const std::string& pin_dir);

// The record pinned in `pin_dir`; nullopt when there is none.
Result<std::optional<cgs_route_config>> read_route_record(const std::string& pin_dir);

// Detaches and unpins the link (missing: skipped). Appends the name removed.
Result<void> detach_route_hook(const std::string& pin_dir, std::vector<std::string>& removed);

// Unpins the maps (the record among them), then removes the dir.
Result<void> unpin_route_record(const std::string& pin_dir, std::vector<std::string>& removed);

}  // namespace cgscope::proxy
