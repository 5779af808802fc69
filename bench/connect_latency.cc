// A tiny TCP connect load generator for bench/lb_connect.sh (no libraries, so it
// builds anywhere):
//   bench_connect_latency serve ADDR PORT          accept and close, forever
//   bench_connect_latency connect ADDR PORT ROUNDS socket+connect+close, ROUNDS times
//   bench_connect_latency pair CG_A ADDR_A PORT_A CG_B ADDR_B PORT_B ROUNDS
//                                                  (CG: a cgroup directory or fd:N, an open
//                                                  cgroup.procs)
//                                                  the same, alternating 1000-round batches
//                                                  between A from cgroup CG_A and B from CG_B
// `connect` prints one line: "ns_per_connect <median of 1000-round batches> min <best batch>".
// `pair` prints "a_ns <median A batch> b_ns <median B batch> ratio <median of B/A per
// adjacent pair> ab <the same over AB pairs> ba <over BA pairs>": a socket belongs to
// the cgroup of the task that made it, so moving the process between batches compares
// two paths in one process, seconds apart, and the drift of a busy VM (10-20% over a
// minute here) cancels out of each pair.
// Sockets close with SO_LINGER 0 (RST), so no TIME_WAIT piles up on the client.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
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

bool make_addr(const char* addr, int port, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof *ss);
  auto* s4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    *len = sizeof *s4;
    return true;
  }
  if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    *len = sizeof *s6;
    return true;
  }
  return false;
}

int serve(const sockaddr_storage& ss, socklen_t len) {
  int fd = socket(ss.ss_family, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 || listen(fd, 4096) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c >= 0) close(c);
  }
}

// Rounds per timed batch; in `pair`, per half of a pair.
constexpr long kBatch = 1000;
// pair: untimed rounds after each switch of cgroup. Work a half leaves behind (the
// RCU frees of sk_storage, ~a grace period later) would otherwise be paid by the
// next half; measured, the AB and BA orders then differed by 2% without it.
constexpr long kSettle = 100;

// One batch of socket+connect+close; ns per round. Failures are counted, not fatal,
// so a broken path shows up as a message rather than a skewed figure.
double batch(const sockaddr_storage& ss, socklen_t len, long* failures, long n = kBatch) {
  linger lg{1, 0};
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; i++) {
    int s = socket(ss.ss_family, SOCK_STREAM, 0);
    if (connect(s, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
      if (++*failures == 1) std::fprintf(stderr, "connect: %s\n", std::strerror(errno));
    }
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / n;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int connect_loop(const sockaddr_storage& ss, socklen_t len, long rounds) {
  std::vector<double> per_batch;
  long failures = 0;
  batch(ss, len, &failures);  // warm-up
  for (long done = 0; done < rounds; done += kBatch) per_batch.push_back(batch(ss, len, &failures));
  if (failures) {
    std::fprintf(stderr, "%ld connects failed\n", failures);
    return 1;
  }
  std::printf("ns_per_connect %.0f min %.0f\n", median(per_batch), *std::min_element(per_batch.begin(), per_batch.end()));
  return 0;
}

// The cgroup.procs file of CG: a directory, or "fd:N" for a file the caller opened
// before entering the network namespace (`ip netns exec` remounts /sys, which hides
// the cgroup mounts).
int open_procs(const char* cg) {
  if (std::strncmp(cg, "fd:", 3) == 0) {
    char* end = nullptr;
    long fd = std::strtol(cg + 3, &end, 10);
    if (end == cg + 3 || *end || fd < 0 || fd > 1 << 20) {
      std::fprintf(stderr, "bad cgroup fd '%s'\n", cg);
      return -1;
    }
    return static_cast<int>(fd);
  }
  std::string path = std::string(cg) + "/cgroup.procs";
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) std::perror(path.c_str());
  return fd;
}

bool join_cgroup(int procs_fd) {
  if (write(procs_fd, "0", 1) == 1) return true;  // "0": the writing task itself
  std::perror("cgroup.procs");
  return false;
}

struct Path {
  int procs_fd;
  sockaddr_storage ss;
  socklen_t len;
};

int pair_loop(const Path& a, const Path& b, long rounds) {
  std::vector<double> as, bs, ratios, ab, ba;
  long failures = 0;
  auto half = [&](const Path& p) {
    if (!join_cgroup(p.procs_fd)) return -1.0;
    batch(p.ss, p.len, &failures, kSettle);
    return batch(p.ss, p.len, &failures);
  };
  // Pairs alternate AB and BA so that whatever the second half of a pair gains or
  // loses from coming second cancels out; the first two pairs are a warm-up.
  for (long i = -2; i * kBatch < rounds; i++) {
    double ta, tb;
    if (i % 2 == 0) {
      ta = half(a);
      tb = half(b);
    } else {
      tb = half(b);
      ta = half(a);
    }
    if (ta < 0 || tb < 0) return 1;
    if (i < 0) continue;
    as.push_back(ta);
    bs.push_back(tb);
    ratios.push_back(tb / ta);
    (i % 2 == 0 ? ab : ba).push_back(tb / ta);
  }
  if (failures) {
    std::fprintf(stderr, "%ld connects failed\n", failures);
    return 1;
  }
  // The two orders apart too: work one half leaves behind (RCU frees, say) lands in
  // the next, so a large gap between them says the halves are not independent.
  std::printf("a_ns %.0f b_ns %.0f ratio %.4f ab %.4f ba %.4f\n", median(as), median(bs), median(ratios), median(ab),
              median(ba));
  return 0;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s serve ADDR PORT | connect ADDR PORT ROUNDS | pair CG_A ADDR_A PORT_A CG_B ADDR_B PORT_B "
               "ROUNDS\n  (ROUNDS: at least %ld)\n",
               argv0, 2 * kBatch);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(argv[0]);
  long rounds = argc >= 5 ? std::atol(argv[argc - 1]) : 0;
  bool is_pair = std::strcmp(argv[1], "pair") == 0, is_connect = std::strcmp(argv[1], "connect") == 0;
  if ((is_pair && argc != 9) || (is_connect && argc != 5) || ((is_pair || is_connect) && rounds < 2 * kBatch))
    return usage(argv[0]);
  if (is_pair) {
    Path a{open_procs(argv[2]), {}, 0}, b{open_procs(argv[5]), {}, 0};
    if (a.procs_fd < 0 || b.procs_fd < 0) return 2;
    if (!make_addr(argv[3], std::atoi(argv[4]), &a.ss, &a.len) || !make_addr(argv[6], std::atoi(argv[7]), &b.ss, &b.len)) {
      std::fprintf(stderr, "bad address\n");
      return 2;
    }
    return pair_loop(a, b, rounds);
  }
  if (argc < 4) return usage(argv[0]);
  sockaddr_storage ss;
  socklen_t len;
  if (!make_addr(argv[2], std::atoi(argv[3]), &ss, &len)) {
    std::fprintf(stderr, "bad address %s\n", argv[2]);
    return 2;
  }
  if (std::strcmp(argv[1], "serve") == 0) return serve(ss, len);
  if (is_connect) return connect_loop(ss, len, rounds);
  return usage(argv[0]);
}
