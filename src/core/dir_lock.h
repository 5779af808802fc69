// A flock(2) on a directory, held for the object's life: whoever holds it owns
// what the directory stands for (the cgroup of a `-- CMD` run, the pins of a
// proxy, the lb pin dir). The kernel drops the lock when the holder dies,
// however it dies and in whatever pid namespace it runs, so "can I take the
// lock" is the one reliable test of whether an owner is still there: no pid or
// name that can be reused. A directory takes a flock like a file, bpffs ones
// included, so a pin dir needs no lock file of its own.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"

namespace cgscope {

class DirLock {
 public:
  // Exclusive: one owner. Shared: readers that must not see a writer's change
  // halfway, and that may be many at once.
  enum class Mode { shared, exclusive };

  // The lock, or nullopt when another process holds it. Fails when `dir` cannot
  // be opened.
  static Result<std::optional<DirLock>> try_lock(const std::string& dir, Mode mode = Mode::exclusive);

  struct WaitOptions {
    Mode mode = Mode::exclusive;
    std::chrono::milliseconds timeout{0};
    // Called once, with the holder's pid (0 if /proc/locks does not show it),
    // when the lock is taken by someone else, before waiting.
    std::function<void(pid_t holder)> on_wait;
  };
  // The lock, waiting for it up to `timeout` (flock has no timed form, so the
  // wait polls every 10 ms). Fails with ETIMEDOUT past it, naming the holder's
  // pid where known, and with the open's errno (ENOENT...) when `dir` cannot be
  // opened.
  static Result<DirLock> lock(const std::string& dir, const WaitOptions& o);

  // The pid holding a flock on `dir`, from /proc/locks; 0 if none is listed
  // (or the holder is in a pid namespace /proc does not show).
  static pid_t holder(const std::string& dir);

  // Whether `path` still names the directory this lock is on: one removed (an
  // lb reset removes its pin dir while holding the lock) or replaced while this
  // process waited is not.
  bool still_at(const std::string& path) const;

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // the lock lives as long as this open file description
};

}  // namespace cgscope
