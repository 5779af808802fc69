#include "core/cgroup2.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "core/mountinfo.h"
#include "core/small_file.h"
#include "core/unique_fd.h"

namespace cgscope {
namespace {

constexpr int kFileidKernfs = 0xfe;  // FILEID_KERNFS in include/linux/exportfs.h
constexpr auto kKillTimeout = std::chrono::seconds(5);

std::string strip_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string join(const std::string& root, const std::string& rel) { return rel == "/" ? root : root + rel; }

// The "populated" flag of cgroup.events: 1 while any process is in the cgroup or
// below it. A cgroup that is gone counts as empty.
Result<bool> is_populated(const std::string& path) {
  auto text = read_small_file(path + "/cgroup.events");
  if (!text) {
    if (text.error().code == ENOENT) return false;
    return fail_with(text.error());
  }
  std::string_view t = *text;
  std::size_t at = t.find("populated ");
  if (at == std::string_view::npos || at + 10 >= t.size())
    return fail("no 'populated' field in " + path + "/cgroup.events", EINVAL);
  return t[at + 10] != '0';
}

// SIGKILLs every pid listed in cgroup.procs of `abs` and of every cgroup below it.
void kill_listed_pids(const std::string& abs) {
  auto visit = [&](const std::string& rel, int, uint64_t) {
    auto procs = read_small_file(join(abs, rel) + "/cgroup.procs", 64 << 20);
    if (!procs) return true;
    std::string_view s = *procs;
    while (!s.empty()) {
      std::size_t nl = s.find('\n');
      std::string_view line = s.substr(0, nl);
      s = nl == std::string_view::npos ? std::string_view() : s.substr(nl + 1);
      pid_t pid = 0;
      bool ok = !line.empty();
      for (char c : line) {
        if (c < '0' || c > '9' || pid > 100000000) {
          ok = false;
          break;
        }
        pid = pid * 10 + (c - '0');
      }
      if (ok && pid > 0) ::kill(pid, SIGKILL);
    }
    return true;
  };
  (void)walk_cgroup_tree(abs, visit);
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

Result<std::string> find_cgroup2_mount(std::string_view text) {
  auto entries = parse_mountinfo(text);
  const MountEntry* best = nullptr;
  bool any_cgroup2 = false;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].fstype != "cgroup2") continue;
    any_cgroup2 = true;
    if (!mount_visible(entries, i)) continue;
    // Prefer a mount of the whole hierarchy over a mount of a subtree of it.
    if (!best || (best->root != "/" && entries[i].root == "/")) best = &entries[i];
  }
  if (best) return strip_trailing_slashes(best->mount_point);
  if (any_cgroup2) return fail("every cgroup2 mount in mountinfo is covered by a later mount", ENOENT);
  return fail("no cgroup2 filesystem in mountinfo", ENOENT);
}

Result<std::string> cgroup2_mount() {
  auto text = read_mountinfo();
  if (!text) return fail_with("finding the cgroup v2 mount", text.error());
  auto m = find_cgroup2_mount(*text);
  if (!m)
    return fail("finding the cgroup v2 mount in /proc/self/mountinfo: " + m.error().message +
                    ". cgscope requires cgroup v2 (kernel 4.5+): mount it with "
                    "'mount -t cgroup2 none /sys/fs/cgroup/unified' (hybrid hosts) or boot with "
                    "systemd.unified_cgroup_hierarchy=1",
                ENOENT);
  return m;
}

std::string relative_cgroup_path(const std::string& mount, const std::string& path) {
  if (path.rfind(mount, 0) == 0 && (path.size() == mount.size() || path[mount.size()] == '/'))
    return path.size() == mount.size() ? "/" : path.substr(mount.size());
  return path.empty() || path[0] != '/' ? "/" + path : path;
}

Result<uint64_t> cgroup_id(const std::string& abs_path) {
  struct stat st {};
  if (::stat(abs_path.c_str(), &st) != 0) return fail_errno("cgroup " + abs_path, errno);
  if (!S_ISDIR(st.st_mode)) return fail("cgroup " + abs_path + ": not a directory", ENOTDIR);
  struct statfs sfs {};
  if (::statfs(abs_path.c_str(), &sfs) != 0) return fail_errno("cgroup " + abs_path + ": statfs", errno);
  if (static_cast<unsigned long>(sfs.f_type) != CGROUP2_SUPER_MAGIC)
    return fail("cgroup " + abs_path + ": not on a cgroup v2 filesystem", EINVAL);
  return static_cast<uint64_t>(st.st_ino);
}

namespace {

// The O(1) way: a kernfs file handle is the node id, and the id of a cgroup's
// directory node is the cgroup id.
Result<std::string> path_by_handle(const std::string& mount, uint64_t id) {
  UniqueFd mfd(::open(mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!mfd) return fail_errno("opening " + mount, errno);
  alignas(struct file_handle) unsigned char buf[sizeof(struct file_handle) + sizeof(uint64_t)] = {};
  auto* fh = reinterpret_cast<struct file_handle*>(buf);
  fh->handle_bytes = sizeof(uint64_t);
  fh->handle_type = kFileidKernfs;
  std::memcpy(fh->f_handle, &id, sizeof(id));
  UniqueFd fd(::open_by_handle_at(mfd.get(), fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_errno("open_by_handle_at for cgroup id " + std::to_string(id), errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("fstat of cgroup id " + std::to_string(id), errno);
  if (static_cast<uint64_t>(st.st_ino) != id) return fail("cgroup handle resolved to another inode", ESTALE);

  std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  std::string target(4096, '\0');
  ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
  if (n < 0) return fail_errno("readlink " + link, errno);
  if (static_cast<std::size_t>(n) >= target.size()) return fail("cgroup path too long", ENAMETOOLONG);
  target.resize(static_cast<std::size_t>(n));
  if (target == mount) return std::string("/");
  if (mount == "/") return target;
  if (target.size() > mount.size() && target.compare(0, mount.size(), mount) == 0 && target[mount.size()] == '/')
    return target.substr(mount.size());
  return fail("cgroup id " + std::to_string(id) + " resolved to " + target + ", outside " + mount, EXDEV);
}

Result<std::string> path_by_walk(const std::string& mount, uint64_t id) {
  std::string found;
  auto stats = walk_cgroup_tree(mount, [&](const std::string& rel, int, uint64_t cid) {
    if (cid != id) return true;
    found = rel;
    return false;
  });
  if (!stats) return fail_with(stats.error());
  if (!found.empty()) return found;
  return fail("no cgroup with id " + std::to_string(id) + " under " + mount +
                  (stats->truncated ? " (tree walk stopped at its limits)" : ""),
              ENOENT);
}

}  // namespace

Result<std::string> cgroup_path_of_id(const std::string& mount_in, uint64_t id) {
  std::string mount = strip_trailing_slashes(mount_in);
  auto p = path_by_handle(mount, id);
  if (p) return p;
  // The kernel looked the id up and found no directory: gone (ESTALE, ENOENT) or
  // a file's id (ENOTDIR). A walk would not find it either.
  int err = p.error().code;
  if (err == ESTALE || err == ENOENT || err == ENOTDIR)
    return fail("no cgroup with id " + std::to_string(id) + " under " + mount, ENOENT);
  return path_by_walk(mount, id);
}

Result<bool> cgroup_id_exists(const std::string& mount, uint64_t id) {
  auto p = path_by_handle(strip_trailing_slashes(mount), id);
  if (p) return true;
  int err = p.error().code;
  if (err == ESTALE || err == ENOENT) return false;
  return fail_with(p.error());
}

Result<std::string> parse_proc_cgroup(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.substr(0, 3) != "0::") continue;
    std::string_view path = line.substr(3);
    // The kernel marks a process whose cgroup was removed (a zombie's, say).
    constexpr std::string_view kDeleted = " (deleted)";
    if (path.size() > kDeleted.size() && path.substr(path.size() - kDeleted.size()) == kDeleted)
      path.remove_suffix(kDeleted.size());
    if (path.empty() || path[0] != '/') return fail("malformed cgroup v2 line '" + std::string(line) + "'", EINVAL);
    return std::string(path);
  }
  return fail("no cgroup v2 line (0::/...): is cgroup v2 mounted?", ENOENT);
}

Result<std::string> cgroup_of_pid(pid_t pid) {
  std::string file = "/proc/" + std::to_string(pid) + "/cgroup";
  auto text = read_small_file(file);
  if (!text) {
    if (text.error().code == ENOENT) return fail("process " + std::to_string(pid) + " does not exist", ESRCH);
    return fail_with(text.error());
  }
  auto p = parse_proc_cgroup(*text);
  if (!p) return fail_with(file, p.error());
  return p;
}

Result<CgroupWalkStats> walk_cgroup_tree(const std::string& root_abs, const CgroupVisitor& fn,
                                         CgroupWalkLimits limits) {
  struct stat st {};
  if (::stat(root_abs.c_str(), &st) != 0) return fail_errno("walking cgroups under " + root_abs, errno);
  CgroupWalkStats stats;
  stats.visited = 1;
  if (!fn("/", 0, static_cast<uint64_t>(st.st_ino))) return stats;

  std::deque<std::pair<std::string, int>> queue;
  queue.emplace_back("/", 0);
  while (!queue.empty()) {
    auto [rel, depth] = std::move(queue.front());
    queue.pop_front();
    if (depth >= limits.max_depth) {
      stats.truncated = true;
      continue;
    }
    std::string dir_path = join(root_abs, rel);
    DIR* d = ::opendir(dir_path.c_str());
    if (!d) continue;  // removed meanwhile, or not readable: skip that subtree
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0'))) continue;
      bool is_dir = e->d_type == DT_DIR;
      uint64_t id = e->d_ino;  // kernfs reports the node id, the same as stat's st_ino
      if (e->d_type == DT_UNKNOWN) {
        struct stat cst {};
        if (::fstatat(::dirfd(d), e->d_name, &cst, AT_SYMLINK_NOFOLLOW) != 0) continue;
        is_dir = S_ISDIR(cst.st_mode);
        id = static_cast<uint64_t>(cst.st_ino);
      }
      if (!is_dir) continue;
      if (stats.visited >= limits.max_dirs) {
        stats.truncated = true;
        ::closedir(d);
        return stats;
      }
      ++stats.visited;
      std::string child = rel == "/" ? "/" + std::string(e->d_name) : rel + "/" + e->d_name;
      if (!fn(child, depth + 1, id)) {
        ::closedir(d);
        return stats;
      }
      queue.emplace_back(std::move(child), depth + 1);
    }
    ::closedir(d);
  }
  return stats;
}

// --- ScopedCgroup ---

Result<ScopedCgroup> ScopedCgroup::create(const std::string& mount_in, const std::string& name) {
  std::string mount = strip_trailing_slashes(mount_in);
  if (name.empty() || name[0] == '/') return fail("cgroup name '" + name + "' must be relative and non-empty", EINVAL);
  for (std::size_t pos = 0; pos <= name.size();) {
    std::size_t slash = name.find('/', pos);
    if (slash == std::string::npos) slash = name.size();
    std::string_view comp = std::string_view(name).substr(pos, slash - pos);
    if (comp.empty() || comp == "." || comp == "..")
      return fail("cgroup name '" + name + "' has an empty, '.' or '..' component", EINVAL);
    pos = slash + 1;
  }
  std::string path = mount + "/" + name;
  if (::mkdir(path.c_str(), 0755) != 0) {
    int err = errno;
    if (err == EEXIST) return fail("creating cgroup " + path + ": it exists already", EEXIST);
    return fail_errno("creating cgroup " + path, err);
  }
  auto id = cgroup_id(path);
  if (!id) {
    ::rmdir(path.c_str());
    return fail_with("creating cgroup " + path, id.error());
  }
  return ScopedCgroup(std::move(path), *id);
}

Result<ScopedCgroup> ScopedCgroup::adopt(const std::string& abs_path) {
  std::string path = strip_trailing_slashes(abs_path);
  auto id = cgroup_id(path);
  if (!id) return fail_with("taking over cgroup " + path, id.error());
  return ScopedCgroup(std::move(path), *id);
}

ScopedCgroup::ScopedCgroup(ScopedCgroup&& o) noexcept
    : path_(std::exchange(o.path_, std::string())), id_(std::exchange(o.id_, 0)) {}

ScopedCgroup& ScopedCgroup::operator=(ScopedCgroup&& o) noexcept {
  if (this != &o) {
    auto r = remove();
    if (!r) std::fprintf(stderr, "cgscope: %s\n", r.error().message.c_str());
    path_ = std::exchange(o.path_, std::string());
    id_ = std::exchange(o.id_, 0);
  }
  return *this;
}

ScopedCgroup::~ScopedCgroup() {
  auto r = remove();
  // A destructor cannot return the error; saying it beats leaving a cgroup unnoticed.
  if (!r) std::fprintf(stderr, "cgscope: %s\n", r.error().message.c_str());
}

Result<void> ScopedCgroup::add_pid(pid_t pid) {
  if (path_.empty()) return fail("adding pid " + std::to_string(pid) + ": the cgroup was removed or released", EINVAL);
  auto r = write_small_file(path_ + "/cgroup.procs", std::to_string(pid));
  if (!r) return fail_with("moving pid " + std::to_string(pid) + " into cgroup " + path_, r.error());
  return {};
}

Result<void> ScopedCgroup::kill_all(bool use_cgroup_kill) {
  if (path_.empty()) return {};
  auto deadline = std::chrono::steady_clock::now() + kKillTimeout;
  bool have_kill = use_cgroup_kill && ::access((path_ + "/cgroup.kill").c_str(), F_OK) == 0;
  for (int round = 0;; ++round) {
    auto populated = is_populated(path_);
    if (!populated) return fail_with("emptying cgroup " + path_, populated.error());
    if (!*populated) return {};
    // Repeated each round: a process may fork while the previous round ran.
    // cgroup.kill covers forks in flight; the pid loop catches up on them.
    if (have_kill && !write_small_file(path_ + "/cgroup.kill", "1")) have_kill = false;
    if (!have_kill) kill_listed_pids(path_);
    if (std::chrono::steady_clock::now() > deadline)
      return fail("emptying cgroup " + path_ + ": processes still inside after 5 s (stuck in the kernel?)", EBUSY);
    sleep_ms(round < 10 ? 1 : 10);
  }
}

Result<void> ScopedCgroup::remove() {
  if (path_.empty()) return {};
  auto killed = kill_all();

  // Children first: collect the subtree and remove it deepest first.
  std::vector<std::pair<int, std::string>> dirs;
  (void)walk_cgroup_tree(path_, [&](const std::string& rel, int depth, uint64_t) {
    if (depth > 0) dirs.emplace_back(depth, path_ + rel);
    return true;
  });
  std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  dirs.emplace_back(0, path_);

  auto deadline = std::chrono::steady_clock::now() + kKillTimeout;
  for (const auto& [depth, dir] : dirs) {
    (void)depth;
    for (;;) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      int err = errno;
      if (err != EBUSY || std::chrono::steady_clock::now() > deadline) {
        if (!killed) return fail_with("removing cgroup " + dir, killed.error());
        return fail_errno("removing cgroup " + dir, err);
      }
      sleep_ms(5);
    }
  }
  path_.clear();
  id_ = 0;
  return {};
}

std::string ScopedCgroup::release() {
  id_ = 0;
  return std::exchange(path_, std::string());
}

}  // namespace cgscope
