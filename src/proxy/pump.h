// One direction of a proxied connection: bytes from one socket to the other,
// through a pipe with splice(2) (no copy into user space), or through a buffer
// where splice cannot be used (no pipe to be had, a socket that refuses it).
// End of input is passed on as shutdown(SHUT_WR), so half-closed connections
// keep working; errors are reported with the side they came from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "proxy/pipe_pool.h"

namespace cgscope::proxy {

class Pump {
 public:
  enum class Status {
    idle,     // `from` has nothing now: wait for it to be readable
    blocked,  // `to` is full: wait for it to be writable (reading is paused)
    again,    // the budget is spent with more to do: call run() again soon
    done,     // `from` ended and the end was passed on: nothing more, ever
    failed,   // an error: error() and error_on_from()
  };

  // Copies through a buffer instead of splicing (RelayOptions::splice false).
  void copy_only() { copy_ = true; }

  // Bytes to write before anything read from `from` (what an upstream sent
  // after its handshake reply).
  void preload(std::string bytes) { pending_ = std::move(bytes); }

  // Moves bytes until `from` has none, `to` is full, or about `budget` bytes
  // have moved (so that one busy connection cannot starve the others).
  Status run(int from, int to, PipePool& pool, size_t budget);

  Status status() const { return status_; }
  uint64_t bytes() const { return bytes_; }  // written to `to`
  int error() const { return error_; }
  bool error_on_from() const { return error_on_from_; }

 private:
  enum class Flush { empty, blocked, failed };
  Flush flush(int to, PipePool& pool);
  ssize_t fill(int from, int to, PipePool& pool);  // > 0 read, 0 end, < 0 errno set
  Status fail(int err, bool on_from);

  std::optional<Pipe> pipe_;
  size_t in_pipe_ = 0;   // bytes in pipe_
  std::string pending_;  // bytes to write before the pipe's (preload, copy mode)
  uint64_t bytes_ = 0;
  bool eof_ = false, shut_ = false;
  bool copy_ = false;  // copy_only(), or splice refused by a socket: buffer copies from now on
  Status status_ = Status::idle;
  int error_ = 0;
  bool error_on_from_ = false;
};

}  // namespace cgscope::proxy
