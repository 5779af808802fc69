#include "proxy/pump.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace cgscope::proxy {
namespace {

constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
// The first read of a flow that is not bulk: requests, replies and TLS records
// fit, so they cost one recv and one send. A read that fills it makes the flow bulk.
constexpr size_t kProbe = 16 * 1024;
constexpr size_t kCopyChunk = 64 * 1024;  // reads of a bulk flow that cannot be spliced
constexpr ssize_t kNoSplice = -2;         // splice_in: use a copy instead

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

Pump::Status Pump::fail(int err, bool on_from) {
  error_ = err;
  error_on_from_ = on_from;
  pipe_.reset();  // may hold bytes: closed, never back to the pool
  in_pipe_ = 0;
  return status_ = Status::failed;
}

void Pump::give_back_pipe(PipePool& pool) {
  if (!pipe_ || in_pipe_ > 0) return;
  pool.put(std::move(*pipe_));
  pipe_.reset();
}

Pump::Flush Pump::flush(int to, PipePool& pool) {
  while (!pending_.empty()) {
    ssize_t n = ::send(to, pending_.data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (would_block(errno)) return Flush::blocked;
      return Flush::failed;
    }
    pending_.erase(0, static_cast<size_t>(n));
    bytes_ += static_cast<uint64_t>(n);
  }
  if (pending_.capacity()) std::string().swap(pending_);  // an idle connection keeps no buffer
  while (in_pipe_ > 0) {
    ssize_t n = ::splice(pipe_->read.get(), nullptr, to, nullptr, in_pipe_, kSpliceFlags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (would_block(errno)) return Flush::blocked;
      return Flush::failed;
    }
    in_pipe_ -= static_cast<size_t>(n);
    bytes_ += static_cast<uint64_t>(n);
  }
  give_back_pipe(pool);  // empty: lend it to someone else
  return Flush::empty;
}

ssize_t Pump::splice_in(int from, PipePool& pool) {
  if (!pipe_) pipe_ = pool.get();
  if (!pipe_) return kNoSplice;  // no pipe to be had (fd shortage): a copy this time
  ssize_t n;
  do n = ::splice(from, nullptr, pipe_->write.get(), nullptr, pool.capacity(), kSpliceFlags);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EINVAL) {
    copy_ = true;  // this socket cannot be spliced: copy from now on
    return kNoSplice;
  }
  if (n > 0) in_pipe_ = static_cast<size_t>(n);
  return n;
}

// A chunk through the buffer, written on at once; only what the destination
// does not take is kept (and a write error shows again, with its side, when
// flush() retries it).
ssize_t Pump::copy_in(int from, int to) {
  static thread_local char chunk[kCopyChunk];
  const size_t want = bulk_ ? kCopyChunk : kProbe;
  ssize_t n;
  do n = ::recv(from, chunk, want, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return n;
  drained_ = static_cast<size_t>(n) < want;
  if (!drained_) bulk_ = true;
  ssize_t sent = ::send(to, chunk, static_cast<size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent < 0) sent = 0;
  bytes_ += static_cast<uint64_t>(sent);
  if (sent < n) pending_.assign(chunk + sent, static_cast<size_t>(n - sent));
  return n;
}

ssize_t Pump::fill(int from, int to, PipePool& pool) {
  if (bulk_ && !copy_) {
    ssize_t n = splice_in(from, pool);
    if (n != kNoSplice) return n;  // a short splice proves nothing: the pipe may be out of slots
  }
  return copy_in(from, to);
}

Pump::Status Pump::run(int from, int to, PipePool& pool, size_t budget) {
  if (status_ == Status::done || status_ == Status::failed) return status_;
  size_t moved = 0;
  drained_ = false;  // only a read of this turn says anything about `from` now
  for (;;) {
    Flush f = flush(to, pool);
    if (f == Flush::failed) return fail(errno, false);
    if (f == Flush::blocked) return status_ = Status::blocked;
    if (eof_) {
      if (!shut_ && !end_with_close_ && ::shutdown(to, SHUT_WR) != 0 && errno != ENOTCONN)
        return fail(errno, false);
      shut_ = true;
      return status_ = Status::done;
    }
    if (moved >= budget) return status_ = Status::again;
    bool wait = drained_ && !end_seen_;
    ssize_t n = wait ? -1 : fill(from, to, pool);
    if (n > 0) {
      moved += static_cast<size_t>(n);
    } else if (n == 0) {
      eof_ = true;
    } else if (wait || would_block(errno)) {
      give_back_pipe(pool);               // flushed above: empty
      if (moved < kProbe) bulk_ = false;  // a quiet turn: back to small reads
      return status_ = Status::idle;
    } else {
      return fail(errno, true);
    }
  }
}

}  // namespace cgscope::proxy
