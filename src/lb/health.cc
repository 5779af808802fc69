#include "lb/health.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/unique_fd.h"

namespace cgscope::lb {

namespace {

constexpr size_t kInFlight = 256;  // connects at once: well under any fd limit

// A non-blocking connect begun to `a`:`port`; an invalid fd if it failed at once.
UniqueFd begin_connect(const Addr& a, uint16_t port) {
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(HostPort{a, port}, &ss);
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) return UniqueFd();
  return fd;
}

// Whether each of `targets` accepts a TCP connect within `timeout`.
std::vector<bool> probe(const std::vector<std::pair<Addr, uint16_t>>& targets, std::chrono::milliseconds timeout) {
  std::vector<bool> ok(targets.size(), false);
  for (size_t start = 0; start < targets.size(); start += kInFlight) {
    const size_t n = std::min(kInFlight, targets.size() - start);
    std::vector<UniqueFd> fds(n);
    std::vector<pollfd> p(n);
    for (size_t i = 0; i < n; i++) {
      fds[i] = begin_connect(targets[start + i].first, targets[start + i].second);
      p[i] = {fds[i] ? fds[i].get() : -1, POLLOUT, 0};  // fd -1: poll skips it
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t pending = std::count_if(p.begin(), p.end(), [](const pollfd& x) { return x.fd >= 0; });
    while (pending > 0) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (ms <= 0) break;
      int r = ::poll(p.data(), p.size(), static_cast<int>(ms));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      for (size_t i = 0; i < n; i++) {
        if (p[i].fd < 0 || !p[i].revents) continue;
        int err = 0;
        socklen_t len = sizeof err;
        ok[start + i] = ::getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
        p[i].fd = -1;
        pending--;
      }
    }
  }
  return ok;
}

}  // namespace

HealthChecker::Key HealthChecker::key(const Service& s, const Endpoint& e) {
  return {e.address, s.ports.empty() ? uint16_t(0) : s.ports[0].target_port};
}

void HealthChecker::track(const Config& cfg) {
  std::map<Key, State> next;
  for (const Service& s : cfg.services)
    for (const Endpoint& e : s.endpoints) {
      Key k = key(s, e);
      if (k.second == 0) continue;  // no port to check
      auto old = state_.find(k);
      next[k] = old == state_.end() ? State{} : old->second;
    }
  state_ = std::move(next);
}

std::string HealthChecker::judge(const Key& k, State& st, bool passed) const {
  (passed ? st.passes : st.fails)++;
  (passed ? st.fails : st.passes) = 0;
  const std::string where = format_host_port(HostPort{k.first, k.second});
  if (st.up && st.fails >= o_.fall) {
    st.up = false;
    return fmt::format("endpoint {} is down ({} failed checks in a row): out of rotation", where, st.fails);
  }
  if (!st.up && st.passes >= o_.rise) {
    st.up = true;
    return fmt::format("endpoint {} is up again ({} passed checks in a row): back in rotation", where, st.passes);
  }
  return "";
}

std::vector<std::string> HealthChecker::check_all() {
  std::vector<Key> keys;
  for (const auto& [k, st] : state_) keys.push_back(k);
  std::vector<bool> ok = probe(keys, o_.timeout);
  std::vector<std::string> changes;
  for (size_t i = 0; i < keys.size(); i++) {
    std::string line = judge(keys[i], state_[keys[i]], ok[i]);
    if (!line.empty()) changes.push_back(std::move(line));
  }
  return changes;
}

std::vector<std::pair<HostPort, bool>> HealthChecker::states() const {
  std::vector<std::pair<HostPort, bool>> out;
  for (const auto& [k, st] : state_) out.push_back({HostPort{k.first, k.second}, st.up});
  return out;
}

void HealthChecker::adjust(Config& cfg) const {
  for (Service& s : cfg.services)
    for (Endpoint& e : s.endpoints) {
      auto st = state_.find(key(s, e));
      if (st != state_.end() && !st->second.up) e.weight = 0;
    }
}

}  // namespace cgscope::lb
