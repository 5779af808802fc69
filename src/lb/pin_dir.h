// The lb pin dir as a thing to guard: it must be on a bpf filesystem (pins
// cannot be made anywhere else), and one writer at a time may change what is
// pinned there. Without the lock two applies interleave their writes (one
// service's address ends up on the other's backend) and two first applies both
// believe they made the pins, so the loser's cleanup removes the winner's.
//
// The lock is core's DirLock, a flock(2) on the directory itself: bpffs holds
// no regular files to lock, but a directory's fd takes a flock like any file's
// (tested on bpffs). apply and reset hold it exclusively from reading the state to the
// last write; status and --dry-run hold it shared, so they never read a state
// halfway through a change. A reset removes the directory while holding it, so
// whoever waited checks, once it has the lock, that the path still names the
// directory it locked, and starts over if not.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <optional>

#include "core/dir_lock.h"
#include "core/result.h"

namespace cgscope::lb {

inline constexpr std::chrono::seconds kDefaultLockTimeout{30};

// Fails, naming the filesystem and what to do, when `dir` (or, while it does
// not exist, its nearest existing parent) is not on a bpf filesystem.
Result<void> require_bpffs(const std::string& dir);

class PinDirLock {
 public:
  using Mode = DirLock::Mode;
  struct Options {
    Mode mode = Mode::exclusive;
    bool create = false;  // make the directory (and its parents) if missing
    std::chrono::milliseconds timeout = kDefaultLockTimeout;
    // Told once, with a sentence, when the lock is held by someone else.
    std::function<void(const std::string&)> on_wait;
  };
  // Fails with ENOENT when `dir` does not exist and `create` is off, and with
  // ETIMEDOUT (naming the holder's pid where /proc/locks has it) past the timeout.
  static Result<PinDirLock> acquire(const std::string& dir, const Options& o);

  // Whether acquire() made the directory: then nothing else can be in it.
  bool made_dir() const { return made_dir_; }

 private:
  std::optional<DirLock> lock_;
  bool made_dir_ = false;
};

}  // namespace cgscope::lb
