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
//   bench_proxy_client hold ADDR PORT N [RSS_PID|parent]
//       Opens N connections and holds them all, then sends "e" on each and waits
//       for every echo; reads the VmRSS of RSS_PID ("parent": the process that
//       started this one, e.g. cgscope proxy run) before the first connect and
//       with all N open; then sends "q" on each, so that the server closes first
//       (its TIME_WAITs then stay in the test namespace). Prints one line of
//       key=value fields:
//       "want opened echoed failed connect_failed echo_failed open_s echo_s nofile
//        rss_pid rss_comm rss_before_kb rss_after_kb first_error".
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

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kIoTimeout = std::chrono::seconds(5);
constexpr auto kRunLimit = std::chrono::seconds(120);
constexpr auto kEchoLimit = std::chrono::seconds(30);
constexpr long kWarmup = 100;

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

rlim_t raise_nofile() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    rlimit want{r.rlim_max, r.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) r = want;
  }
  return r.rlim_cur;
}

void set_timeouts(int fd) {
  timeval tv{};
  tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kIoTimeout).count();
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
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
  std::printf("conns %ld failed %ld us_mean %.2f us_p50 %.2f us_p99 %.2f first_error %s\n", n, failed, mean, p50,
              p99, first_error.c_str());
  return failed ? 1 : 0;
}

// ---- hold -------------------------------------------------------------------

long rss_kb(pid_t pid) {
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

std::string comm_of(pid_t pid) {
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

int hold(const sockaddr_in& addr, long n, pid_t rss_pid) {
  rlim_t nofile = raise_nofile();
  long before = rss_kb(rss_pid);
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(n));
  long connect_failed = 0, echo_failed = 0, echoed = 0;
  std::string first_error = "none";
  auto note = [&](const char* step, int err) {
    if (first_error == "none") first_error = std::string(step) + ":" + std::strerror(err);
  };

  auto t0 = Clock::now();
  auto deadline = t0 + kRunLimit;
  for (long i = 0; i < n; i++) {
    if (Clock::now() > deadline) {
      connect_failed += n - i;
      if (first_error == "none") first_error = "open-time-limit";
      break;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      connect_failed++;
      note("socket", errno);
      continue;
    }
    set_timeouts(fd);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      connect_failed++;
      note("connect", errno);
      close(fd);
      continue;
    }
    fds.push_back(fd);
  }
  auto t1 = Clock::now();
  size_t opened = fds.size();

  // Every open connection: one byte there, the same byte back.
  int ep = epoll_create1(EPOLL_CLOEXEC);
  long waiting = 0;
  for (size_t i = 0; i < fds.size(); i++) {
    char c = 'e';
    if (send(fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
      echo_failed++;
      note("send", errno ? errno : EIO);
      close(fds[i]);
      fds[i] = -1;
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    waiting++;
  }
  std::vector<epoll_event> events(1024);
  auto echo_deadline = Clock::now() + kEchoLimit;
  while (waiting > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(echo_deadline - Clock::now()).count();
    if (left <= 0) break;
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), static_cast<int>(left));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) break;
    for (int j = 0; j < k; j++) {
      size_t i = events[j].data.u64;
      char c = 0;
      ssize_t got = recv(fds[i], &c, 1, MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
      waiting--;
      if (got == 1 && c == 'e') {
        echoed++;
      } else {
        echo_failed++;
        note(got == 0 ? "echo (end of stream)" : "echo", got < 0 ? errno : EPROTO);
      }
    }
  }
  if (waiting > 0) {
    echo_failed += waiting;
    if (first_error == "none") first_error = "no-echo-within-30s";
  }
  auto t2 = Clock::now();
  long after = rss_kb(rss_pid);  // all of them still open

  // The end: "q" asks the server to close first, so that the TIME_WAITs stay in
  // its namespace (gone with it) rather than on this host, where they would hold
  // ports to the same address for a minute: a run right after this one would
  // find them taken. Bounded by kIoTimeout; then the rest are simply closed.
  close(ep);
  ep = epoll_create1(EPOLL_CLOEXEC);
  long closing = 0;
  for (size_t i = 0; i < fds.size(); i++) {
    char c = 'q';
    if (fds[i] < 0 || send(fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) continue;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) == 0) closing++;
  }
  auto close_deadline = Clock::now() + kIoTimeout;
  while (closing > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(close_deadline - Clock::now()).count();
    if (left <= 0) break;
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), static_cast<int>(left));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) break;
    for (int j = 0; j < k; j++) {
      size_t i = events[j].data.u64;
      char buf[16];
      ssize_t got;
      while ((got = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT)) > 0) {
      }
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
      close(fds[i]);  // after the server's end (or an error): no TIME_WAIT here
      fds[i] = -1;
      closing--;
    }
  }
  for (int fd : fds)
    if (fd >= 0) close(fd);
  close(ep);

  for (char& ch : first_error)
    if (ch == ' ') ch = '_';
  using secs = std::chrono::duration<double>;
  std::printf(
      "want=%ld opened=%zu echoed=%ld failed=%ld connect_failed=%ld echo_failed=%ld open_s=%.3f echo_s=%.3f "
      "nofile=%llu rss_pid=%d rss_comm=%s rss_before_kb=%ld rss_after_kb=%ld first_error=%s\n",
      n, opened, echoed, connect_failed + echo_failed, connect_failed, echo_failed, secs(t1 - t0).count(),
      secs(t2 - t1).count(), static_cast<unsigned long long>(nofile), static_cast<int>(rss_pid),
      comm_of(rss_pid).c_str(), before, after, first_error.c_str());
  return connect_failed + echo_failed ? 1 : 0;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s serve ADDR PORT | short ADDR PORT N | hold ADDR PORT N [RSS_PID|parent]\n"
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
  if (mode == "hold" && (argc == 5 || argc == 6)) {
    pid_t pid = 0;
    if (argc == 6) pid = std::strcmp(argv[5], "parent") == 0 ? getppid() : static_cast<pid_t>(std::atol(argv[5]));
    return hold(addr, n, pid);
  }
  return usage(argv[0]);
}
