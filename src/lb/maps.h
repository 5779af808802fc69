// The lb state in the kernel: the programs loaded from the embedded skeleton, the
// maps and links pinned under the pin dir, and reading them back. Pinned state is
// what keeps balancing going when no cgscope process runs; everything here is
// RAII over fds, and nothing is unpinned except by remove_pins().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cgscope/abi/lb.h"
#include "core/pinned_hooks.h"
#include "core/result.h"
#include "core/unique_fd.h"
#include "lb/planner.h"

namespace cgscope::lb {

inline constexpr const char* kDefaultPinDir = "/sys/fs/bpf/cgscope/lb";
inline std::string pin_dir_or_default(const std::string& d) { return d.empty() ? kDefaultPinDir : d; }

// Names of the pinned maps (as in bpf/lib/lb_maps.bpf.h) and links.
inline constexpr const char* kMapNames[] = {"lb_frontend", "lb_service", "lb_endpoint", "lb_backend",
                                            "lb_name",     "lb_counters", "lb_stats",  "lb_config",
                                            "lb_netns",    "lb_exempt",  "lb_orig",   "lb_waypoint_orig",
                                            "lb_affinity"};
inline constexpr const char* kLinkNames[] = {"link_connect4", "link_connect6", "link_getpeername4",
                                             "link_getpeername6", "link_sockops"};


// The pinned maps, opened by path. Exists only when lb state exists.
class PinnedMaps {
 public:
  // Fails with code ENOENT when there is no lb state under `dir`.
  static Result<PinnedMaps> open(const std::string& dir);

  int fd(MapKind m) const;
  int stats_fd() const { return stats_.get(); }
  int config_fd() const { return config_.get(); }
  int netns_fd() const { return netns_.get(); }
  int exempt_fd() const { return exempt_.get(); }
  int waypoint_orig_fd() const { return waypoint_orig_.get(); }

  // Everything the planner needs, read back from the maps.
  Result<MapState> read_state() const;
  // Per-service counters summed over CPUs, by service id.
  // Service id -> name alone (what a metrics scrape needs, without the rest).
  Result<std::map<uint32_t, std::string>> read_names() const;
  Result<std::map<uint32_t, cgs_lb_counters>> read_counters() const;
  // The global stats, summed over CPUs, by enum cgs_lb_stat.
  Result<std::vector<uint64_t>> read_stats() const;

  // Performs the ops in order; stops at the first failure (the maps are then a
  // consistent mix: see planner.h) and says how many were done. (For the kill
  // tests: CGSCOPE_LB_TEST_DIE_AFTER_WRITES=N SIGKILLs the process after N.)
  Result<void> execute(const std::vector<Op>& ops, size_t* done = nullptr) const;

 private:
  UniqueFd frontend_, service_, endpoint_, backend_, name_, counters_, stats_, config_, netns_, exempt_,
      waypoint_orig_;
};

// What is attached, from the pinned links.
using LinkInfo = PinnedLinkInfo;
std::vector<LinkInfo> read_links(const std::string& dir);

// The programs of this binary, loaded against the pinned maps (created and
// pinned on first use). attach() then attaches them to `cgroup_path` and pins
// the links, or, when links are pinned already, swaps in this binary's programs
// where they differ (an atomic bpf_link_update: no connect misses the hook).
class Loader {
 public:
  // `affinity`: some service asks for session affinity (sizes lb_affinity).
  static Result<Loader> load(const std::string& dir, bool affinity);
  Loader(Loader&&) noexcept;
  Loader& operator=(Loader&&) noexcept;
  ~Loader();
  // `created` is set when this call made the first pins.
  bool created_pins() const { return created_; }
  // Fails if the pinned links are attached to a different cgroup.
  Result<void> attach(const std::string& cgroup_path, std::vector<std::string>* notes);

 private:
  Loader() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool created_ = false;
};

// Detaches the pinned links and removes every pin under `dir`, then `dir`.
// Missing pins are not an error. Says what it removed.
Result<std::vector<std::string>> remove_pins(const std::string& dir);

// Enrols a socket of cgscope's own: connects on it are never rewritten.
Result<void> exempt_socket(const std::string& dir, int sock_fd);

// The netns cookie of the network namespace file at `path` (/run/netns/X).
Result<uint64_t> netns_cookie(const std::string& path);

// Map memory as the kernel accounts it (fdinfo memlock), summed over lb maps.
Result<uint64_t> map_memory_bytes(const std::string& dir);

}  // namespace cgscope::lb
