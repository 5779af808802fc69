// cgroup v2: finding the mount, ids and paths of cgroups, the cgroup of a process,
// and cgroups made for a run (ScopedCgroup).
//
// A cgroup's id is the inode number of its directory on the cgroup2 mount; it is
// the value bpf_get_current_cgroup_id() returns and what the tracer's events carry.
// Paths called "relative" here are relative to the cgroup2 mount and start with
// '/', as in /proc/PID/cgroup: "/" is the root cgroup.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/mountinfo.h"  // unescape_mountinfo_field, for the callers of find_cgroup2_mount
#include "core/result.h"

namespace cgscope {

// The mount point of the cgroup2 filesystem, from the text of /proc/self/mountinfo.
// Prefers a mount of the hierarchy's root ("/" in the root field) and ignores a
// mount point that a later mount covers. Fails when there is no cgroup2 mount.
Result<std::string> find_cgroup2_mount(std::string_view mountinfo_text);

// find_cgroup2_mount on /proc/self/mountinfo; the error says how to get cgroup v2.
Result<std::string> cgroup2_mount();

// `path` as a path relative to the cgroup2 mount ("/" for the root): an absolute
// path under `mount` loses the mount, anything else is taken as relative already
// ("/system.slice/x", "docker/abc" -> "/docker/abc"), as docker's --cgroup-parent is.
std::string relative_cgroup_path(const std::string& mount, const std::string& path);

// The id of the cgroup at `abs_path` (a directory on a cgroup2 mount).
Result<uint64_t> cgroup_id(const std::string& abs_path);

// The path, relative to `mount`, of the cgroup with id `id` ("/" for the root).
// Resolved through open_by_handle_at with a kernfs file handle (needs
// CAP_DAC_READ_SEARCH), else by a bounded walk of the tree. Fails with code
// ENOENT when no such cgroup exists (any more).
Result<std::string> cgroup_path_of_id(const std::string& mount, uint64_t id);

// Whether the kernel knows a cgroup with id `id` (a live one, looked up by file
// handle under `mount`): false only when it says so (ESTALE, ENOENT); an answer
// it cannot give (no CAP_DAC_READ_SEARCH, a cgroup outside this mount) is an error.
Result<bool> cgroup_id_exists(const std::string& mount, uint64_t id);

// The cgroup v2 path (the "0::" line) in the text of /proc/PID/cgroup.
Result<std::string> parse_proc_cgroup(std::string_view text);

// The cgroup v2 path of process `pid`, relative to the cgroup2 mount.
Result<std::string> cgroup_of_pid(pid_t pid);

// Bounds of a walk over a cgroup tree: a tree is outside input, and a walk must end.
struct CgroupWalkLimits {
  int max_depth = 32;          // levels below the starting directory
  std::size_t max_dirs = 100000;  // directories visited, the start included
};

struct CgroupWalkStats {
  std::size_t visited = 0;
  bool truncated = false;  // a limit cut the walk short
};

// Visits `root_abs` and every cgroup below it, breadth-first, calling
// fn(path relative to root_abs ("/" for root_abs itself), depth, cgroup id).
// fn returns false to stop the walk. Fails only if root_abs cannot be read.
using CgroupVisitor = std::function<bool(const std::string& rel_path, int depth, uint64_t id)>;
Result<CgroupWalkStats> walk_cgroup_tree(const std::string& root_abs, const CgroupVisitor& fn,
                                         CgroupWalkLimits limits = {});

// A cgroup made for a run: created by create(), emptied and removed (with any
// cgroups made below it) when it goes out of scope, unless release()d.
class ScopedCgroup {
 public:
  // Makes `<mount>/<name>`; `name` may hold '/' to nest under an existing cgroup,
  // but no "." or ".." components. Fails if the cgroup exists already.
  static Result<ScopedCgroup> create(const std::string& mount, const std::string& name);

  // Takes ownership of the existing cgroup at `abs_path` (one a killed run left
  // behind, say), to be emptied and removed like one made by create().
  static Result<ScopedCgroup> adopt(const std::string& abs_path);

  ScopedCgroup(ScopedCgroup&& o) noexcept;
  ScopedCgroup& operator=(ScopedCgroup&& o) noexcept;
  ScopedCgroup(const ScopedCgroup&) = delete;
  ScopedCgroup& operator=(const ScopedCgroup&) = delete;
  ~ScopedCgroup();

  const std::string& path() const { return path_; }  // absolute; "" once removed or released
  uint64_t id() const { return id_; }

  // Moves process `pid` (all its threads) into this cgroup.
  Result<void> add_pid(pid_t pid);

  // Kills every process in this cgroup and the cgroups below it and waits (at
  // most a few seconds) until none is left. Uses cgroup.kill where the kernel has
  // it and `use_cgroup_kill` is set, else SIGKILLs each pid in cgroup.procs.
  Result<void> kill_all(bool use_cgroup_kill = true);

  // kill_all, then removes the cgroups below this one and this one. Done at most
  // once: later calls succeed without doing anything.
  Result<void> remove();

  // Gives up ownership: the cgroup stays. Returns its path.
  std::string release();

 private:
  ScopedCgroup(std::string path, uint64_t id) : path_(std::move(path)), id_(id) {}
  std::string path_;
  uint64_t id_ = 0;
};

}  // namespace cgscope
