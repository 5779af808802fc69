// Which name a lookup through the DNS forwarder returned an address for, so
// that a later connection to the address goes to the upstream by that name
// (socks5h, HTTP CONNECT): the upstream then resolves and connects as the program
// meant, whatever its own view of the address. Bounded; thread-safe (the
// forwarder writes, the relay reads).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace cgscope::proxy {

class NameCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit NameCache(size_t capacity = 65536) : capacity_(capacity) {}

  // `ip` as text ("10.0.0.1"); kept for `ttl` seconds, at least a minute (a
  // program may connect well after a short-TTL answer).
  void remember(const std::string& ip, const std::string& name, uint32_t ttl, Clock::time_point now = Clock::now());
  std::optional<std::string> name_of(const std::string& ip, Clock::time_point now = Clock::now()) const;
  size_t size() const;

 private:
  struct Entry {
    std::string name;
    Clock::time_point until;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> by_ip_;
  std::deque<std::string> order_;  // insertion order, for eviction when full
};

}  // namespace cgscope::proxy
