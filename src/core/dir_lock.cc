#include "core/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace cgscope {

namespace {

Result<UniqueFd> open_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_errno("opening " + dir + " to lock it", errno);
  return fd;
}

int flock_op(DirLock::Mode m) { return (m == DirLock::Mode::exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB; }

// The pid of a FLOCK line of /proc/locks on the inode of `st`
// ("1: FLOCK  ADVISORY  WRITE 1234 00:1f:5678 0 EOF"); blocked waiters ("->") skipped.
pid_t holder_of(const struct stat& st) {
  std::ifstream in("/proc/locks");
  const std::string want = fmt::format("{:02x}:{:02x}:{}", major(st.st_dev), minor(st.st_dev), st.st_ino);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string n, type, advisory, mode, dev;
    pid_t pid = 0;
    if (!(f >> n >> type) || type != "FLOCK") continue;
    if (f >> advisory >> mode >> pid >> dev && dev == want) return pid;
  }
  return 0;
}

}  // namespace

Result<std::optional<DirLock>> DirLock::try_lock(const std::string& dir, Mode mode) {
  auto fd = open_dir(dir);
  if (!fd) return fail_with(fd.error());
  if (::flock(fd->get(), flock_op(mode)) != 0) {
    if (errno == EWOULDBLOCK) return std::optional<DirLock>{};
    return fail_errno("locking " + dir, errno);
  }
  return std::optional<DirLock>(DirLock(std::move(*fd)));
}

Result<DirLock> DirLock::lock(const std::string& dir, const WaitOptions& o) {
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  auto fd = open_dir(dir);
  if (!fd) return fail_with(fd.error());
  for (bool told = false;; told = true) {
    if (::flock(fd->get(), flock_op(o.mode)) == 0) return DirLock(std::move(*fd));
    if (errno != EWOULDBLOCK) return fail_errno("locking " + dir, errno);
    if (std::chrono::steady_clock::now() >= deadline) {
      pid_t pid = holder(dir);
      return fail(fmt::format("{} is still locked{} after {} ms", dir, pid ? fmt::format(" by pid {}", pid) : "",
                              o.timeout.count()),
                  ETIMEDOUT);
    }
    if (!told && o.on_wait) o.on_wait(holder(dir));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

pid_t DirLock::holder(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return 0;
  return holder_of(st);
}

bool DirLock::still_at(const std::string& path) const {
  struct stat a {}, b {};
  return ::fstat(fd_.get(), &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace cgscope
