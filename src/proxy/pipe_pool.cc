#include "proxy/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace cgscope::proxy {

std::optional<Pipe> PipePool::get() {
  if (!free_.empty()) {
    Pipe p = std::move(free_.back());
    free_.pop_back();
    return p;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return std::nullopt;
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  // Bigger pipes move more per splice pair; the pages exist only while bytes do.
  // Refused above /proc/sys/fs/pipe-max-size for an unprivileged user: then the
  // pipe keeps its default size, which works too.
  int got = ::fcntl(p.write.get(), F_SETPIPE_SZ, capacity_);
  if (got < 0) {
    got = ::fcntl(p.write.get(), F_GETPIPE_SZ);
    if (got > 0) capacity_ = got;
  }
  return p;
}

void PipePool::put(Pipe p) {
  if (free_.size() < keep_) free_.push_back(std::move(p));
}

}  // namespace cgscope::proxy
