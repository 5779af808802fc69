#include "proxy/pump.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace cgscope::proxy {
namespace {

constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
constexpr size_t kCopyChunk = 64 * 1024;

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

Pump::Status Pump::fail(int err, bool on_from) {
  error_ = err;
  error_on_from_ = on_from;
  pipe_.reset();  // may hold bytes: closed, never back to the pool
  in_pipe_ = 0;
  return status_ = Status::failed;
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
  std::string().swap(pending_);  // an idle connection keeps no buffer
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
  if (pipe_) {  // empty: lend it to someone else
    pool.put(std::move(*pipe_));
    pipe_.reset();
  }
  return Flush::empty;
}

ssize_t Pump::fill(int from, int to, PipePool& pool) {
  if (!copy_) {
    if (!pipe_) pipe_ = pool.get();
    if (pipe_) {
      ssize_t n;
      do n = ::splice(from, nullptr, pipe_->write.get(), nullptr, pool.capacity(), kSpliceFlags);
      while (n < 0 && errno == EINTR);
      if (n >= 0 || errno != EINVAL) {
        if (n > 0) in_pipe_ = static_cast<size_t>(n);
        return n;
      }
      copy_ = true;  // EINVAL: this socket cannot be spliced; copy from now on
    }
  }
  // No splice, or no pipe to be had (fd shortage): a chunk through a buffer,
  // written on at once; only what the destination does not take is kept (and a
  // write error shows again, with its side, when flush() retries it).
  static thread_local char chunk[kCopyChunk];
  ssize_t n;
  do n = ::recv(from, chunk, sizeof chunk, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return n;
  ssize_t sent = ::send(to, chunk, static_cast<size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent < 0) sent = 0;
  bytes_ += static_cast<uint64_t>(sent);
  if (sent < n) pending_.assign(chunk + sent, static_cast<size_t>(n - sent));
  return n;
}

Pump::Status Pump::run(int from, int to, PipePool& pool, size_t budget) {
  if (status_ == Status::done || status_ == Status::failed) return status_;
  size_t moved = 0;
  for (;;) {
    Flush f = flush(to, pool);
    if (f == Flush::failed) return fail(errno, false);
    if (f == Flush::blocked) return status_ = Status::blocked;
    if (eof_) {
      if (!shut_ && ::shutdown(to, SHUT_WR) != 0 && errno != ENOTCONN) return fail(errno, false);
      shut_ = true;
      return status_ = Status::done;
    }
    if (moved >= budget) return status_ = Status::again;
    ssize_t n = fill(from, to, pool);
    if (n > 0) {
      moved += static_cast<size_t>(n);
    } else if (n == 0) {
      eof_ = true;
    } else if (would_block(errno)) {
      if (pipe_) {  // nothing came: the pipe is empty, give it back
        pool.put(std::move(*pipe_));
        pipe_.reset();
      }
      return status_ = Status::idle;
    } else {
      return fail(errno, true);
    }
  }
}

}  // namespace cgscope::proxy
