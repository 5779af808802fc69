// The relay's deadlines: connect timeouts and idle timeouts, one queue for all,
// earliest first. A connection has at most one deadline that counts (the one
// it armed last); older entries for it stay in the queue and are recognised as
// stale when they come up, which is cheaper than finding and removing them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

namespace cgscope::proxy {

using Clock = std::chrono::steady_clock;

class DeadlineQueue {
 public:
  void push(Clock::time_point when, uint64_t id) { q_.emplace(when, id); }

  // The earliest deadline, if any.
  std::optional<Clock::time_point> next() const {
    if (q_.empty()) return std::nullopt;
    return q_.top().first;
  }

  // Takes the earliest entry if it is due at `now`.
  std::optional<std::pair<Clock::time_point, uint64_t>> pop_due(Clock::time_point now) {
    if (q_.empty() || q_.top().first > now) return std::nullopt;
    auto e = q_.top();
    q_.pop();
    return e;
  }

  void clear() { q_ = {}; }
  size_t size() const { return q_.size(); }

 private:
  using Entry = std::pair<Clock::time_point, uint64_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> q_;
};

}  // namespace cgscope::proxy
