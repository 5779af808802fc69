// bench_proxy_client hold|burst: many connections opened (one by one, or all
// at once), held, each checked with a 1-byte echo (see proxy_client.cc).
#pragma once

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "proxy_client_common.h"

namespace bench_proxy_client {

inline long rss_kb(pid_t pid) {
  if (pid <= 0) return -1;
  std::string path = "/proc/" + std::to_string(pid) + "/status";
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  std::fclose(f);
  return kb;
}

inline std::string comm_of(pid_t pid) {
  if (pid <= 0) return "-";
  std::string path = "/proc/" + std::to_string(pid) + "/comm";
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) return "?";
  char buf[64] = {};
  if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
  std::fclose(f);
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& ch : s)
    if (ch == ' ') ch = '_';
  return s.empty() ? "?" : s;
}

struct Opened {
  std::vector<int> fds;
  long failed = 0, slow = 0;
  std::string first_error = "none";
  void note(const char* step, int err) {
    failed++;
    if (first_error == "none") first_error = std::string(step) + ":" + std::strerror(err);
  }
};

// One connect after another, each waited for.
inline Opened open_one_by_one(const sockaddr_in& addr, long n) {
  Opened o;
  auto deadline = Clock::now() + kRunLimit;
  for (long i = 0; i < n; i++) {
    if (Clock::now() > deadline) {
      o.failed += n - i;
      if (o.first_error == "none") o.first_error = "open-time-limit";
      break;
    }
    auto t = Clock::now();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      o.note("socket", errno);
      continue;
    }
    set_timeouts(fd);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      o.note("connect", errno);
      close(fd);
      continue;
    }
    if (Clock::now() - t >= std::chrono::seconds(1)) o.slow++;
    o.fds.push_back(fd);
  }
  return o;
}

// All n connects started at once (non-blocking), then waited for together.
inline Opened open_at_once(const sockaddr_in& addr, long n) {
  Opened o;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Clock::time_point> started;
  std::vector<int> pending;
  for (long i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      o.note("socket", errno);
      continue;
    }
    started.push_back(Clock::now());
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
      o.note("connect", errno);
      close(fd);
      started.pop_back();
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = pending.size();
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    pending.push_back(fd);
  }
  std::vector<epoll_event> events(1024);
  size_t waiting = pending.size();
  auto deadline = Clock::now() + kRunLimit;
  while (waiting > 0 && Clock::now() < deadline) {
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int j = 0; j < k; j++) {
      size_t i = events[j].data.u64;
      int fd = pending[i];
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      waiting--;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) {
        o.note("connect", err);
        close(fd);
        continue;
      }
      if (Clock::now() - started[i] >= std::chrono::seconds(1)) o.slow++;
      o.fds.push_back(fd);
    }
  }
  if (waiting > 0) {
    o.failed += static_cast<long>(waiting);
    if (o.first_error == "none") o.first_error = "open-time-limit";
  }
  close(ep);
  return o;
}

// Waits on `ep` until `*pending` is 0 or `deadline` passes, calling
// on_ready(index) for each ready socket (its epoll data); on_ready lowers
// *pending for every socket it is done with.
template <typename F>
void for_each_ready(int ep, long* pending, Clock::time_point deadline, F on_ready) {
  std::vector<epoll_event> events(1024);
  while (*pending > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return;
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), static_cast<int>(left));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return;
    for (int j = 0; j < k; j++) on_ready(static_cast<size_t>(events[j].data.u64));
  }
}

// Watches fd for input (and its end) with its index as the data.
inline bool watch(int ep, int fd, size_t index) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = index;
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
}

struct Echoes {
  long echoed = 0, failed = 0;
};

// Every open connection: one byte there, the same byte back. A connection
// that fails is closed (its fd set to -1) and noted.
inline Echoes echo_all(std::vector<int>& fds, Opened& o) {
  Echoes e;
  auto note = [&](const char* step, int err) {
    e.failed++;
    if (o.first_error == "none") o.first_error = std::string(step) + ":" + std::strerror(err);
  };
  int ep = epoll_create1(EPOLL_CLOEXEC);
  long waiting = 0;
  for (size_t i = 0; i < fds.size(); i++) {
    char c = 'e';
    if (send(fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
      note("send", errno ? errno : EIO);
      close(fds[i]);
      fds[i] = -1;
      continue;
    }
    watch(ep, fds[i], i);
    waiting++;
  }
  for_each_ready(ep, &waiting, Clock::now() + kEchoLimit, [&](size_t i) {
    char c = 0;
    ssize_t got = recv(fds[i], &c, 1, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
    waiting--;
    if (got == 1 && c == 'e')
      e.echoed++;
    else
      note(got == 0 ? "echo (end of stream)" : "echo", got < 0 ? errno : EPROTO);
  });
  if (waiting > 0) {
    e.failed += waiting;
    if (o.first_error == "none") o.first_error = "no-echo-within-30s";
  }
  close(ep);
  return e;
}

// The end: "q" asks the server to close first, so that the TIME_WAITs stay in
// its namespace (gone with it) rather than on this host, where they would hold
// ports to the same address for a minute: a run right after this one would
// find them taken. Bounded by kIoTimeout; then the rest are simply closed.
inline void close_all(std::vector<int>& fds) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  long closing = 0;
  for (size_t i = 0; i < fds.size(); i++) {
    char c = 'q';
    if (fds[i] < 0 || send(fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) continue;
    if (watch(ep, fds[i], i)) closing++;
  }
  for_each_ready(ep, &closing, Clock::now() + kIoTimeout, [&](size_t i) {
    char buf[16];
    ssize_t got;
    while ((got = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT)) > 0) {
    }
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
    close(fds[i]);  // after the server's end (or an error): no TIME_WAIT here
    fds[i] = -1;
    closing--;
  });
  for (int fd : fds)
    if (fd >= 0) close(fd);
  close(ep);
}

inline int hold(const sockaddr_in& addr, long n, pid_t rss_pid, bool burst) {
  rlim_t nofile = raise_nofile();
  long before = rss_kb(rss_pid);
  auto t0 = Clock::now();
  Opened o = burst ? open_at_once(addr, n) : open_one_by_one(addr, n);
  auto t1 = Clock::now();
  size_t opened = o.fds.size();
  Echoes e = echo_all(o.fds, o);
  auto t2 = Clock::now();
  long after = rss_kb(rss_pid);  // all of them still open
  close_all(o.fds);

  for (char& ch : o.first_error)
    if (ch == ' ') ch = '_';
  using secs = std::chrono::duration<double>;
  std::printf(
      "want=%ld opened=%zu echoed=%ld failed=%ld connect_failed=%ld echo_failed=%ld slow=%ld open_s=%.3f "
      "echo_s=%.3f nofile=%llu rss_pid=%d rss_comm=%s rss_before_kb=%ld rss_after_kb=%ld first_error=%s\n",
      n, opened, e.echoed, o.failed + e.failed, o.failed, e.failed, o.slow, secs(t1 - t0).count(),
      secs(t2 - t1).count(), static_cast<unsigned long long>(nofile), static_cast<int>(rss_pid),
      comm_of(rss_pid).c_str(), before, after, o.first_error.c_str());
  return o.failed + e.failed ? 1 : 0;
}

}  // namespace bench_proxy_client
