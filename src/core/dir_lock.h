// An exclusive flock(2) on a directory, held for the object's life: whoever holds
// it owns what the directory stands for (the cgroup of a `-- CMD` run, the pins of
// a proxy). The kernel drops the lock when the holder dies, however it dies and in
// whatever pid namespace it runs, so "can I take the lock" is the one reliable
// test of whether an owner is still there: no pid or name that can be reused.
#pragma once

#include <optional>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"

namespace cgscope {

class DirLock {
 public:
  // The lock, or nullopt when another process holds it. Fails when `dir` cannot
  // be opened.
  static Result<std::optional<DirLock>> try_lock(const std::string& dir);

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace cgscope
