#include "trace/file_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "core/cgroup2.h"
#include "core/small_file.h"
#include "trace/file_tracker.h"
#include "trace/proc_tree.h"

namespace cgscope::trace {
namespace {

constexpr std::string_view kDeleted = " (deleted)";
constexpr unsigned long kOCloexec = 02000000;

std::string read_link(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
  return n <= 0 || size_t(n) >= sizeof(buf) ? std::string() : std::string(buf, size_t(n));
}

bool is_pseudo(std::string_view target) { return target.empty() || target.front() != '/'; }

// The close-on-exec flag from /proc/PID/fdinfo/FD ("flags:\t02100002", octal).
Cloexec fd_cloexec(const std::string& fdinfo) {
  auto text = read_small_file(fdinfo, 64 << 10);
  if (!text) return Cloexec::unknown;
  size_t at = text->find("flags:");
  if (at == std::string::npos) return Cloexec::unknown;
  unsigned long flags = std::strtoul(text->c_str() + at + 6, nullptr, 8);
  return (flags & kOCloexec) ? Cloexec::yes : Cloexec::no;
}

// /proc names fds from the reader's root; the kernel side names them from the
// task's. Where the two differ (a container), the task's view is the suffix.
bool to_task_view(std::string& path, const std::string& root) {
  if (root.empty() || root == "/") return true;
  if (path.size() <= root.size() || path.compare(0, root.size(), root) != 0 || path[root.size()] != '/') return false;
  path.erase(0, root.size());
  return true;
}

void seed_process(FileTracker& files, pid_t pid, PathGeneration gen) {
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string root = read_link(base + "/root");
  DIR* dir = ::opendir((base + "/fd").c_str());
  if (!dir) return;
  while (dirent* d = ::readdir(dir)) {
    if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
    const std::string link = base + "/fd/" + d->d_name;
    FdEntry e;
    e.path = read_link(link);
    if (e.path.empty()) continue;
    e.pseudo = is_pseudo(e.path);
    if (!e.pseudo) {
      if (e.path.size() > kDeleted.size() && e.path.ends_with(kDeleted)) {
        e.path.resize(e.path.size() - kDeleted.size());
        e.deleted = true;
      }
      if (!to_task_view(e.path, root)) continue;
      struct stat st;
      e.regular = ::stat(link.c_str(), &st) == 0 && S_ISREG(st.st_mode);
    }
    e.gen = gen.gen;
    e.trusted = !gen.moving;
    e.cloexec = fd_cloexec(base + "/fdinfo/" + d->d_name);
    files.seed(uint32_t(pid), std::atoi(d->d_name), std::move(e));
  }
  ::closedir(dir);
}

}  // namespace

std::vector<pid_t> scope_processes(const std::string& cgroup_mount, const std::vector<uint64_t>& cgroup_ids,
                                   const std::vector<pid_t>& pids, bool follow) {
  std::vector<pid_t> out(pids.begin(), pids.end());
  if (follow)
    for (pid_t p : descendants_of(pids)) out.push_back(p);
  for (uint64_t id : cgroup_ids) {
    auto rel = cgroup_path_of_id(cgroup_mount, id);
    if (!rel) continue;
    std::string top = *rel == "/" ? cgroup_mount : cgroup_mount + *rel;
    (void)walk_cgroup_tree(top, [&](const std::string& sub, int, uint64_t) {
      auto procs = read_small_file(sub == "/" ? top + "/cgroup.procs" : top + sub + "/cgroup.procs");
      if (!procs) return true;
      for (size_t at = 0; at < procs->size();) {
        size_t nl = procs->find('\n', at);
        if (nl == std::string::npos) nl = procs->size();
        if (nl > at) out.push_back(pid_t(std::atoi(procs->c_str() + at)));
        at = nl + 1;
      }
      return true;
    });
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void seed_fds(FileTracker& files, const std::vector<pid_t>& pids, PathGeneration gen) {
  for (pid_t pid : pids) seed_process(files, pid, gen);
}

}  // namespace cgscope::trace
