// The container registry: which container (if any) a cgroup id belongs to.
//
// The tracer asks once per event (lookup), so a known id is one hash probe. An id
// never seen is resolved once, to a path (cgroup_path_of_id) and through the
// runtime naming rules of container_id.h, and the answer, "host" included, is
// cached. Containers that no runtime named (a process in its own pid namespace, as
// `unshare --pid` or a hand-rolled sandbox makes) are learnt from process events
// and the start-up scan of /proc: their cgroup becomes the container.
//
// Not thread-safe: one event loop owns it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/result.h"

namespace cgscope::trace {

struct ContainerInfo {
  std::string id;           // runtime id, or for a pid-namespace-only container its cgroup's last path component
  std::string runtime;      // docker|containerd|crio|podman|kubepods, "" for a pid-namespace-only container
  std::string pod_uid;      // Kubernetes pod UID, "" if none
  std::string cgroup_path;  // the container's own cgroup, relative to the cgroup2 mount
  bool by_pidns = false;    // found by its pid namespace, not by a runtime's naming
};

// The inode number of a process's pid namespace (/proc/PID/ns/pid).
Result<uint32_t> pidns_inum_of(pid_t pid);
// cgscope's own pid namespace (/proc/self/ns/pid): the registry's "host".
Result<uint32_t> host_pidns_inum();

class ContainerRegistry {
 public:
  explicit ContainerRegistry(std::string cgroup2_mount, uint32_t host_pidns_inum);

  // At start: walks the cgroup tree (depth 32, 100k dirs at most) and /proc/*/
  // (processes whose pid namespace is not the host's mark their cgroup).
  void scan();

  // Hot path. nullptr = the host. The pointer stays valid for the registry's life
  // (its contents change only if the same cgroup id is registered again).
  const ContainerInfo* lookup(uint64_t cgroup_id);

  // A cgroup appeared (cgroup_mkdir event); `path` relative to the hierarchy root.
  void on_cgroup_mkdir(uint64_t id, std::string_view path);

  // From fork/exec events: a process in pid namespace `pidns_inum` (at nesting
  // level `pidns_level`) runs in cgroup `cgroup_id`. A namespace other than the
  // host's, below the initial one, in a cgroup that no runtime named (and not the
  // root cgroup) makes that cgroup a container.
  void on_process(uint64_t cgroup_id, uint32_t pidns_inum, uint32_t pidns_level);

  // For --container ID: every known cgroup id of the container whose id is
  // `container_id_or_prefix`, or starts with it when it has 12+ characters.
  // Empty when nothing matches, or when a prefix matches several containers
  // (container_ids_matching tells those apart).
  std::vector<uint64_t> cgroups_of(std::string_view container_id_or_prefix);

  // The distinct container ids cgroups_of would consider for this argument.
  std::vector<std::string> container_ids_matching(std::string_view container_id_or_prefix) const;

  // One entry per known container (not per cgroup), sorted by id then cgroup path.
  std::vector<ContainerInfo> list() const;

  // How many cgroup ids have an answer cached (containers and host).
  std::size_t cached() const { return cache_.size(); }

  // The last scan() met the walk's limits: some cgroups were not visited (they
  // are still resolved on first lookup).
  bool scan_truncated() const { return scan_truncated_; }

 private:
  const ContainerInfo* store(uint64_t id, std::optional<ContainerInfo> info);
  std::optional<ContainerInfo> classify(std::string_view path) const;
  void mark_pidns(uint64_t id, const std::string& path);
  void scan_processes();
  void scan_tree();

  std::string mount_;
  uint32_t host_pidns_;
  uint64_t root_id_ = 0;  // the root cgroup is never a container
  std::unordered_map<uint64_t, std::optional<ContainerInfo>> cache_;
  std::size_t host_entries_ = 0;  // cache_ entries that hold "host"
  bool scan_truncated_ = false;
  std::unordered_map<std::string, ContainerInfo> pidns_containers_;  // by cgroup path
};

}  // namespace cgscope::trace
