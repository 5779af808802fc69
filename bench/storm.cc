// A syscall storm for benchmarks and tests:
//   bench_storm open N [PATH]   N open+close pairs of PATH (default /etc/hostname)
//   bench_storm getppid N [T]   N getppid calls, split over T threads (default 1)
//   bench_storm write N PATH    N writes of 4 KiB to PATH (created), back to its
//                               start every 256 writes: 1 MiB in the page cache,
//                               so that no writeback storm muddies the figures
//   bench_storm udp N           N datagrams of 64 bytes on loopback, from a connected
//                               socket to a bound one nobody reads (each passes the
//                               send and the receive path whether or not it is queued)
// Prints the elapsed wall time in nanoseconds on standard output.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s open|getppid|write|udp N [PATH]\n", argv[0]);
    return 2;
  }
  long n = std::strtol(argv[2], nullptr, 10);
  const char* path = argc > 3 ? argv[3] : "/etc/hostname";
  auto t0 = std::chrono::steady_clock::now();
  if (std::strcmp(argv[1], "open") == 0) {
    for (long i = 0; i < n; i++) {
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        std::perror(path);
        return 1;
      }
      close(fd);
    }
  } else if (std::strcmp(argv[1], "write") == 0) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::perror(path);
      return 1;
    }
    static char buf[4096];
    for (long i = 0; i < n; i++) {
      if (write(fd, buf, sizeof buf) != sizeof buf) {
        std::perror("write");
        return 1;
      }
      if (i % 256 == 255) lseek(fd, 0, SEEK_SET);
    }
    close(fd);
  } else if (std::strcmp(argv[1], "udp") == 0) {
    int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (rx < 0 || tx < 0 || bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(rx, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        connect(tx, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::perror("udp sockets");
      return 1;
    }
    static char buf[64];
    for (long i = 0; i < n; i++)
      if (send(tx, buf, sizeof buf, 0) != sizeof buf) {
        std::perror("send");
        return 1;
      }
    close(tx);
    close(rx);
  } else if (std::strcmp(argv[1], "getppid") == 0) {
    long threads = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 1;
    if (threads < 1 || threads > 64) {
      std::fprintf(stderr, "threads must be 1..64\n");
      return 2;
    }
    // Not the libc wrapper: no caching. The first share runs on the main thread.
    auto storm = [](long calls) {
      for (long i = 0; i < calls; i++) syscall(SYS_getppid);
    };
    std::vector<std::thread> others;
    for (long t = 1; t < threads; t++) others.emplace_back(storm, n / threads);
    storm(n - (threads - 1) * (n / threads));
    for (auto& t : others) t.join();
  } else {
    std::fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  auto t1 = std::chrono::steady_clock::now();
  std::printf("%lld\n", static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
  return 0;
}
