// Which name a lookup through the DNS forwarder returned an address for, so
// that a later connection to the address goes to the upstream by that name
// (socks5h, HTTP CONNECT): the upstream then resolves and connects as the program
// meant, whatever its own view of the address. Per client: what one client
// looked up names only its own connections; another client's connect to the
// same address goes as the address (a name it did not ask for could take it
// somewhere else than it dialled, and would tell what the first one looked up).
// A client is the cgroup id of its socket, which both kernel records carry (the
// egress hook's for DNS, sockops' for TCP). Bounded; thread-safe (the forwarder
// writes, the relay reads).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace cgscope::proxy {

class NameCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit NameCache(size_t capacity = 65536) : capacity_(capacity) {}

  // `ip` as text ("10.0.0.1") as `client` looked it up; kept for `ttl` seconds,
  // at least a minute (a program may connect well after a short-TTL answer).
  void remember(uint64_t client, const std::string& ip, const std::string& name, uint32_t ttl,
                Clock::time_point now = Clock::now());
  // The name `client` looked `ip` up by; nullopt if only others did.
  std::optional<std::string> name_of(uint64_t client, const std::string& ip,
                                     Clock::time_point now = Clock::now()) const;
  size_t size() const;

 private:
  struct Key {
    uint64_t client;
    std::string ip;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<std::string>()(k.ip) ^ std::hash<uint64_t>()(k.client); }
  };
  struct Entry {
    std::string name;
    Clock::time_point until;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<Key, Entry, KeyHash> by_key_;
  std::deque<Key> order_;  // insertion order, for eviction when full
};

}  // namespace cgscope::proxy
