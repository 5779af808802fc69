// Pipes for splice(2), lent to a connection's direction only while bytes sit in
// them. An idle connection then holds two fds (its sockets) and no pipe, which
// is what lets one relay hold tens of thousands of them under a normal fd limit.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "core/unique_fd.h"

namespace cgscope::proxy {

struct Pipe {
  UniqueFd read, write;
};

class PipePool {
 public:
  // Keeps at most `keep` empty pipes; new pipes get `capacity` bytes where the
  // kernel allows (F_SETPIPE_SZ; the default 64 KiB otherwise).
  PipePool(size_t keep, int capacity) : keep_(keep), capacity_(capacity) {}

  // A pipe from the pool or a new one; nullopt when none can be made (EMFILE,
  // ENFILE: the caller copies through a buffer instead).
  std::optional<Pipe> get();
  // Takes back an EMPTY pipe (one with bytes in it must be closed instead).
  void put(Pipe p);
  // Closes the idle pipes: their fds are worth more as connections when fds run short.
  void clear() { free_.clear(); }

  size_t capacity() const { return static_cast<size_t>(capacity_); }
  size_t idle() const { return free_.size(); }

 private:
  size_t keep_;
  int capacity_;
  std::vector<Pipe> free_;
};

}  // namespace cgscope::proxy
