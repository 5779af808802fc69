// What the modes of bench_proxy_client share: bounds and fd limits.
#pragma once

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>

namespace bench_proxy_client {

using Clock = std::chrono::steady_clock;
inline constexpr auto kIoTimeout = std::chrono::seconds(5);
inline constexpr auto kRunLimit = std::chrono::seconds(120);
inline constexpr auto kEchoLimit = std::chrono::seconds(30);
inline constexpr long kWarmup = 100;

inline rlim_t raise_nofile() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    rlimit want{r.rlim_max, r.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) r = want;
  }
  return r.rlim_cur;
}

inline void set_timeouts(int fd) {
  timeval tv{};
  tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kIoTimeout).count();
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

}  // namespace bench_proxy_client
