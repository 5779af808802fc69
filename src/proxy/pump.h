// One direction of a proxied connection: bytes from one socket to the other.
// Small reads go through a buffer (recv, send: no pipe to take and give back);
// once a read fills that buffer the flow is bulk and moves with splice(2)
// through a pipe (no copy into user space) until a turn moves little again.
// Where splice cannot be used (no pipe to be had, a socket that refuses it)
// everything goes through the buffer. End of input is passed on as
// shutdown(SHUT_WR) (or by the close that follows when the other direction is
// done), so half-closed connections keep working; errors are
// reported with the side they came from.
//
// Syscalls per turn matter more than copies here (client, relay and server
// share two CPUs): a recv that returns less than it asked for means the source
// had nothing more at that moment, so the turn ends without the read that
// would only say EAGAIN; anything arriving later raises a new edge-triggered
// event. That shortcut is off once the source has reported its end (RDHUP,
// HUP, ERR): an end seen then raises no new event, so it must be read.
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

  // `from` reported its end or an error (an event with RDHUP, HUP or ERR):
  // from now on it is read until it says so, never left after a short read.
  void expect_end() { end_seen_ = true; }
  bool end_expected() const { return end_seen_; }

  // The other direction is done, so the connection is closed as soon as this
  // one is: its end then goes out with close(2) (a FIN all the same, as both
  // receive queues were read to their end) and not with a shutdown first.
  void end_with_close() { end_with_close_ = true; }

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
  ssize_t splice_in(int from, PipePool& pool);     // -2: no pipe, or the socket refuses splice
  ssize_t copy_in(int from, int to);
  void give_back_pipe(PipePool& pool);
  Status fail(int err, bool on_from);

  std::optional<Pipe> pipe_;
  size_t in_pipe_ = 0;   // bytes in pipe_
  std::string pending_;  // bytes to write before the pipe's (preload, copy mode)
  uint64_t bytes_ = 0;
  bool eof_ = false, shut_ = false;
  bool copy_ = false;      // copy_only(), or splice refused by a socket: buffer copies from now on
  bool bulk_ = false;      // a read filled its buffer: splice (or bigger copies) until a turn moves little
  bool drained_ = false;   // the last read was short: `from` had nothing more then
  bool end_seen_ = false;  // expect_end()
  bool end_with_close_ = false;  // end_with_close()
  Status status_ = Status::idle;
  int error_ = 0;
  bool error_on_from_ = false;
};

}  // namespace cgscope::proxy
