// The client's side of the relay's integration tests: exchanges over a
// connected socket, each bounded by a time limit.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <string>

#include "owned.h"

namespace cgscope::testing::relay_harness {

struct Exchange {
  std::string received;
  int error = 0;  // errno of the read or write that failed
  bool eof = false;
  double seconds = 0;
};

// Adds what one recv returned to x: bytes, the end, or an error (EAGAIN is none).
inline void note_recv(Exchange& x, ssize_t n, const char* buf) {
  if (n > 0)
    x.received.append(buf, static_cast<size_t>(n));
  else if (n == 0)
    x.eof = true;
  else if (errno != EAGAIN)
    x.error = errno;
}

// Writes `data` while reading, until `want` bytes came back, the end of input,
// an error or `limit`: both directions at once, as the echo needs. With `shut`,
// the write side is shut down (SHUT_WR) once `data` is all sent.
inline Exchange exchange(int fd, const std::string& data, Clock::duration limit = 30s, bool shut = true,
                         size_t want = SIZE_MAX) {
  WaitNote note("an exchange through the relay");
  Exchange x;
  auto start = Clock::now(), end = start + limit;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  size_t off = 0;
  bool shut_done = !shut;
  char buf[65536];
  while (!x.eof && !x.error && x.received.size() < want && Clock::now() < end) {
    if (off == data.size() && !shut_done) {
      ::shutdown(fd, SHUT_WR);
      shut_done = true;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (off < data.size() ? POLLOUT : 0)), 0};
    ::poll(&p, 1, 100);
    if (off < data.size()) {
      ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0)
        off += static_cast<size_t>(n);
      else if (n < 0 && errno != EAGAIN)
        x.error = errno;
    }
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      note_recv(x, n, buf);
      if (n <= 0) break;
    }
  }
  x.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return x;
}

// A line each way, the connection left open.
inline std::string ping(int fd, const std::string& line = "ping") {
  return exchange(fd, line, 5s, false, line.size()).received;
}

// Reads until `want` bytes, the end, an error or `limit` (nothing is sent).
inline Exchange receive(int fd, size_t want, Clock::duration limit = 5s) {
  Exchange x;
  auto start = Clock::now(), end = start + limit;
  char buf[4096];
  while (x.received.size() < want && !x.eof && !x.error && Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    note_recv(x, ::recv(fd, buf, sizeof buf, MSG_DONTWAIT), buf);
  }
  x.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return x;
}

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The relay resets a connection it refuses at once; on a slow machine the reset
// can arrive before connect() returns, which then fails (dial() gives no fd):
// the same outcome, seen sooner. Either way, true when the client was reset.
inline bool was_reset(const UniqueFd& c) { return !c || receive(c.get(), 1).error == ECONNRESET; }

}  // namespace cgscope::testing::relay_harness
