// The load generator and test server of bench/proxy_bench.sh (libc only, linked
// dynamically so that proxychains4's LD_PRELOAD hooks its connect()):
//
//   bench_proxy_client serve ADDR PORT
//       An epoll echo server, forever: echoes every byte; after echoing a 'q' it
//       closes the connection (it closes first, so its side keeps the TIME_WAIT
//       and the client's ports do not run out over tens of thousands of runs).
//   bench_proxy_client short ADDR PORT N
//       N short connections, one after another (after 100 untimed ones): connect,
//       send "q", read "q", read the end, close. Prints one line:
//       "conns N failed F us_mean M us_p50 P us_p99 Q first_error E".
//   bench_proxy_client hold|burst ADDR PORT N [RSS_PID|parent]
//       Opens N connections and holds them all, then sends "e" on each and waits
//       for every echo; reads the VmRSS of RSS_PID ("parent": the process that
//       started this one, e.g. cgscope proxy run) before the first connect and
//       with all N open; then sends "q" on each, so that the server closes first
//       (its TIME_WAITs then stay in the test namespace). `hold` connects one
//       after another (each connect waited for); `burst` starts all N connects
//       at once and then waits for them, which fills accept queues: a connect
//       that took a second or more (its SYN was dropped and sent again) counts
//       as slow. Prints one line of key=value fields:
//       "want opened echoed failed connect_failed echo_failed slow open_s echo_s
//        nofile rss_pid rss_comm rss_before_kb rss_after_kb first_error".
//
// Every wait is bounded: each connect, send and read by kIoTimeout, `short` by
// kRunLimit in all, `hold` by kRunLimit to open and kEchoLimit to echo; what is
// not done by then counts as failed. The soft RLIMIT_NOFILE is raised to the hard
// limit first.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "proxy_client_common.h"
#include "proxy_client_hold.h"

namespace {

using namespace bench_proxy_client;

bool make_addr(const char* addr, const char* port, sockaddr_in* out) {
  std::memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  char* end = nullptr;
  long p = std::strtol(port, &end, 10);
  if (!*port || *end || p <= 0 || p > 65535) return false;
  out->sin_port = htons(static_cast<uint16_t>(p));
  return inet_pton(AF_INET, addr, &out->sin_addr) == 1;
}

long parse_count(const char* s) {
  char* end = nullptr;
  long n = std::strtol(s, &end, 10);
  return (*s && !*end && n > 0 && n <= 10000000) ? n : -1;
}

// ---- serve ------------------------------------------------------------------

int serve(const sockaddr_in& addr) {
  raise_nofile();
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 65535) != 0) {
    std::perror("serve: bind/listen");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::vector<epoll_event> events(512);
  char buf[4096];
  for (;;) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno != EINTR) {
      std::perror("serve: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (int k = 0; k < 256; k++) {
          int c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;  // EAGAIN, or out of fds for now (the backlog keeps the rest)
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLRDHUP;
          cev.data.fd = c;
          if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) != 0) close(c);
        }
        continue;
      }
      ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0) {  // the end, or an error: done with it (close removes it from epoll)
        close(fd);
        continue;
      }
      bool quit = std::memchr(buf, 'q', static_cast<size_t>(got)) != nullptr;
      // A byte or a few: the socket buffer takes them whole.
      if (send(fd, buf, static_cast<size_t>(got), MSG_NOSIGNAL | MSG_DONTWAIT) != got || quit) close(fd);
    }
  }
}

// ---- short ------------------------------------------------------------------

// One connection: connect, "q" there, "q" back, the end, close. 0 or an errno.
int one_short(const sockaddr_in& addr, const char** step) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *step = "socket";
    return errno;
  }
  set_timeouts(fd);
  int err = 0;
  char c = 'q';
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    *step = "connect";
    err = errno;
  } else if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
    *step = "send";
    err = errno ? errno : EIO;
  } else {
    ssize_t n = recv(fd, &c, 1, 0);
    if (n != 1 || c != 'q') {
      *step = n == 0 ? "reply (end of stream before it)" : "reply";
      err = n < 0 ? errno : EPROTO;
    } else {
      n = recv(fd, &c, 1, 0);  // the server closes after its reply
      if (n != 0) {
        *step = "close (no end of stream after the reply)";
        err = n < 0 ? errno : EPROTO;
      }
    }
  }
  close(fd);
  return err;
}

int short_loop(const sockaddr_in& addr, long n) {
  raise_nofile();
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  long failed = 0;
  std::string first_error = "none";
  auto deadline = Clock::now() + kRunLimit;
  for (long i = -kWarmup; i < n; i++) {
    if (Clock::now() > deadline) {
      failed += n - std::max(i, 0L);
      if (first_error == "none") first_error = "run-time-limit";
      break;
    }
    const char* step = "";
    auto t0 = Clock::now();
    int err = one_short(addr, &step);
    auto t1 = Clock::now();
    if (i < 0) continue;
    if (err) {
      if (++failed == 1) first_error = std::string(step) + ":" + std::strerror(err);
      continue;
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  double mean = 0, p50 = 0, p99 = 0;
  if (!us.empty()) {
    for (double v : us) mean += v;
    mean /= static_cast<double>(us.size());
    std::sort(us.begin(), us.end());
    p50 = us[us.size() / 2];
    p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  }
  for (char& ch : first_error)
    if (ch == ' ') ch = '_';
  std::printf("conns %ld failed %ld us_mean %.2f us_p50 %.2f us_p99 %.2f first_error %s\n", n, failed, mean, p50, p99,
              first_error.c_str());
  return failed ? 1 : 0;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s serve ADDR PORT | short ADDR PORT N | hold|burst ADDR PORT N [RSS_PID|parent]\n"
               "  (ADDR: IPv4)\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return usage(argv[0]);
  signal(SIGPIPE, SIG_IGN);
  std::string mode = argv[1];
  sockaddr_in addr{};
  if (!make_addr(argv[2], argv[3], &addr)) {
    std::fprintf(stderr, "bad address or port: %s %s\n", argv[2], argv[3]);
    return 2;
  }
  if (mode == "serve" && argc == 4) return serve(addr);
  if (argc < 5) return usage(argv[0]);
  long n = parse_count(argv[4]);
  if (n < 0) return usage(argv[0]);
  if (mode == "short" && argc == 5) return short_loop(addr, n);
  if ((mode == "hold" || mode == "burst") && (argc == 5 || argc == 6)) {
    pid_t pid = 0;
    if (argc == 6) pid = std::strcmp(argv[5], "parent") == 0 ? getppid() : static_cast<pid_t>(std::atol(argv[5]));
    return hold(addr, n, pid, mode == "burst");
  }
  return usage(argv[0]);
}
