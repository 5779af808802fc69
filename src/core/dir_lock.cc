#include "core/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace cgscope {

Result<std::optional<DirLock>> DirLock::try_lock(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_errno("opening " + dir + " to lock it", errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return std::optional<DirLock>{};
    return fail_errno("locking " + dir, errno);
  }
  return std::optional<DirLock>(DirLock(std::move(fd)));
}

}  // namespace cgscope
