// A tiny TCP connect load generator for bench/lb_connect.sh (no libraries, so it
// builds anywhere):
//   bench_connect_latency serve ADDR PORT          accept and close, forever
//   bench_connect_latency connect ADDR PORT ROUNDS socket+connect+close, ROUNDS times
// `connect` prints one line: "ns_per_connect <median of 1000-round batches> min <best batch>".
// Sockets close with SO_LINGER 0 (RST), so no TIME_WAIT piles up on the client.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

int connect_loop(const sockaddr_storage& ss, socklen_t len, long rounds) {
  const long batch = 1000;
  std::vector<double> per_batch;
  linger lg{1, 0};
  long failures = 0;
  for (long done = -batch; done < rounds; done += batch) {  // first batch: warm-up
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < batch; i++) {
      int s = socket(ss.ss_family, SOCK_STREAM, 0);
      if (connect(s, reinterpret_cast<const sockaddr*>(&ss), len) != 0) failures++;
      setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(s);
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / batch;
    if (done >= 0) per_batch.push_back(ns);
  }
  if (failures) {
    std::fprintf(stderr, "%ld connects failed (%s)\n", failures, std::strerror(errno));
    return 1;
  }
  std::sort(per_batch.begin(), per_batch.end());
  std::printf("ns_per_connect %.0f min %.0f\n", per_batch[per_batch.size() / 2], per_batch.front());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s serve ADDR PORT | connect ADDR PORT ROUNDS\n", argv[0]);
    return 2;
  }
  sockaddr_storage ss;
  socklen_t len;
  if (!make_addr(argv[2], std::atoi(argv[3]), &ss, &len)) {
    std::fprintf(stderr, "bad address %s\n", argv[2]);
    return 2;
  }
  if (std::strcmp(argv[1], "serve") == 0) return serve(ss, len);
  if (std::strcmp(argv[1], "connect") == 0 && argc >= 5) return connect_loop(ss, len, std::atol(argv[4]));
  std::fprintf(stderr, "usage: %s serve ADDR PORT | connect ADDR PORT ROUNDS\n", argv[0]);
  return 2;
}
