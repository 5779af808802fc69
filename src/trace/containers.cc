#include "trace/containers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <utility>

#include "core/cgroup2.h"
#include "core/unique_fd.h"
#include "trace/container_id.h"

namespace cgscope::trace {
namespace {

// Cached "host" answers are dropped wholesale past this many; containers are kept.
// Bounds memory on hosts that churn through short-lived cgroups.
constexpr std::size_t kMaxHostEntries = 1 << 18;

std::string last_component(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// The parent of "/a/b" is "/a"; of "/a", "/".
std::string_view parent_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

// Nesting level of a process's pid namespace: the NSpid line of /proc/PID/status
// lists its pid in each namespace from the initial one down. nullopt if unknown.
std::optional<uint32_t> pidns_level_of(pid_t pid) {
  std::string file = "/proc/" + std::to_string(pid) + "/status";
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string text(8192, '\0');
  ssize_t n = ::read(fd.get(), text.data(), text.size());
  if (n <= 0) return std::nullopt;
  text.resize(static_cast<std::size_t>(n));
  std::size_t at = text.find("\nNSpid:");
  if (at == std::string::npos) return std::nullopt;
  std::size_t end = text.find('\n', at + 1);
  std::string_view line = std::string_view(text).substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
  uint32_t fields = 0;
  bool in_field = false;
  for (char c : line) {
    bool digit = c >= '0' && c <= '9';
    if (digit && !in_field) ++fields;
    in_field = digit;
  }
  if (fields == 0) return std::nullopt;
  return fields - 1;
}

}  // namespace

Result<uint32_t> pidns_inum_of(pid_t pid) {
  std::string file = "/proc/" + std::to_string(pid) + "/ns/pid";
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return fail_errno("stat " + file, errno);
  return static_cast<uint32_t>(st.st_ino);
}

Result<uint32_t> host_pidns_inum() {
  struct stat st {};
  if (::stat("/proc/self/ns/pid", &st) != 0) return fail_errno("stat /proc/self/ns/pid", errno);
  return static_cast<uint32_t>(st.st_ino);
}

ContainerRegistry::ContainerRegistry(std::string cgroup2_mount, uint32_t host_pidns_inum)
    : mount_(std::move(cgroup2_mount)), host_pidns_(host_pidns_inum) {
  while (mount_.size() > 1 && mount_.back() == '/') mount_.pop_back();
  if (auto id = cgroup_id(mount_)) root_id_ = *id;
}

std::optional<ContainerInfo> ContainerRegistry::classify(std::string_view path) const {
  if (auto m = match_container(path)) {
    ContainerInfo info;
    info.id = std::move(m->ref.id);
    info.runtime = std::move(m->ref.runtime);
    info.pod_uid = std::move(m->ref.pod_uid);
    info.cgroup_path = std::string(path.substr(0, m->cgroup_len));
    return info;
  }
  // A cgroup at or below a pid-namespace container's belongs to it.
  if (!pidns_containers_.empty()) {
    for (std::string_view p = path; p.size() > 1; p = parent_of(p)) {
      auto it = pidns_containers_.find(std::string(p));
      if (it != pidns_containers_.end()) return it->second;
    }
  }
  return std::nullopt;
}

const ContainerInfo* ContainerRegistry::store(uint64_t id, std::optional<ContainerInfo> info) {
  if (!info && host_entries_ >= kMaxHostEntries) {
    for (auto it = cache_.begin(); it != cache_.end();) it = it->second ? std::next(it) : cache_.erase(it);
    host_entries_ = 0;
  }
  auto [it, inserted] = cache_.try_emplace(id);
  if (!inserted && !it->second) --host_entries_;
  it->second = std::move(info);
  if (!it->second) ++host_entries_;
  return it->second ? &*it->second : nullptr;
}

const ContainerInfo* ContainerRegistry::lookup(uint64_t cgroup_id) {
  auto it = cache_.find(cgroup_id);
  if (it != cache_.end()) return it->second ? &*it->second : nullptr;
  // Unknown: resolve once. A cgroup that is gone already is cached as the host.
  std::optional<ContainerInfo> info;
  if (auto path = cgroup_path_of_id(mount_, cgroup_id)) info = classify(*path);
  return store(cgroup_id, std::move(info));
}

void ContainerRegistry::on_cgroup_mkdir(uint64_t id, std::string_view path) {
  std::string p = !path.empty() && path[0] == '/' ? std::string(path) : "/" + std::string(path);
  store(id, classify(p));
}

void ContainerRegistry::mark_pidns(uint64_t id, const std::string& path) {
  ContainerInfo info;
  info.id = last_component(path);
  info.cgroup_path = path;
  info.by_pidns = true;
  pidns_containers_[path] = info;
  store(id, std::move(info));
  // "Host" answers cached for cgroups below this one are now wrong. Paths of
  // host entries are not kept, so forget them all: each is resolved again once.
  if (host_entries_ > 0) {
    for (auto it = cache_.begin(); it != cache_.end();) it = it->second ? std::next(it) : cache_.erase(it);
    host_entries_ = 0;
  }
}

void ContainerRegistry::on_process(uint64_t cgroup_id, uint32_t pidns_inum, uint32_t pidns_level) {
  // Level 0 is the initial pid namespace: the real host, even when cgscope runs
  // in a namespace of its own.
  if (pidns_inum == host_pidns_ || pidns_inum == 0 || pidns_level == 0) return;
  if (cgroup_id == root_id_) return;
  if (lookup(cgroup_id)) return;  // a container already (runtime-named or by pid namespace)
  auto path = cgroup_path_of_id(mount_, cgroup_id);
  if (!path || *path == "/") return;
  mark_pidns(cgroup_id, *path);
}

void ContainerRegistry::scan_processes() {
  DIR* d = ::opendir("/proc");
  if (!d) return;
  while (struct dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || !end || *end != '\0') continue;
    auto ns = pidns_inum_of(static_cast<pid_t>(pid));
    if (!ns || *ns == host_pidns_) continue;  // gone, a kernel thread, or the host's
    auto level = pidns_level_of(static_cast<pid_t>(pid));
    if (level && *level == 0) continue;
    auto path = cgroup_of_pid(static_cast<pid_t>(pid));
    if (!path || *path == "/") continue;
    if (classify(*path)) continue;  // a runtime's container, or inside a known one
    auto id = cgroup_id(mount_ + *path);
    if (!id) continue;
    mark_pidns(*id, *path);
  }
  ::closedir(d);
}

void ContainerRegistry::scan_tree() {
  auto stats = walk_cgroup_tree(mount_, [&](const std::string& rel, int, uint64_t id) {
    store(id, classify(rel));
    return true;
  });
  scan_truncated_ = stats && stats->truncated;
}

void ContainerRegistry::scan() {
  // Processes first: the tree walk then tags cgroups below pid-namespace containers.
  scan_processes();
  scan_tree();
}

std::vector<std::string> ContainerRegistry::container_ids_matching(std::string_view arg) const {
  std::vector<std::string> out;
  if (arg.empty()) return out;
  for (const auto& [cg, info] : cache_) {
    (void)cg;
    if (!info) continue;
    if (info->id == arg) return {info->id};  // an exact id beats any prefix
    if (arg.size() >= 12 && info->id.compare(0, arg.size(), arg) == 0) out.push_back(info->id);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<uint64_t> ContainerRegistry::cgroups_of(std::string_view arg) {
  std::vector<uint64_t> out;
  auto ids = container_ids_matching(arg);
  if (ids.size() != 1) return out;
  for (const auto& [cg, info] : cache_)
    if (info && info->id == ids[0]) out.push_back(cg);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ContainerInfo> ContainerRegistry::list() const {
  std::map<std::pair<std::string, std::string>, const ContainerInfo*> seen;
  for (const auto& [cg, info] : cache_) {
    (void)cg;
    if (info) seen.emplace(std::make_pair(info->id, info->cgroup_path), &*info);
  }
  std::vector<ContainerInfo> out;
  out.reserve(seen.size());
  for (const auto& [key, info] : seen) out.push_back(*info);
  return out;
}

}  // namespace cgscope::trace
