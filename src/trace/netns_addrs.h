// Which container (or the host) a local address belongs to: the addresses of
// each container's network namespace, read from one of its processes
// (/proc/PID/net/fib_trie for IPv4, /proc/PID/net/if_inet6 for IPv6), so that a
// flow to a container that is not traced still names it.
//
// The parsers are pure (their input is a kernel file, but fuzzed all the same);
// AddressBook does the reading. Loopback and link-local addresses name no one:
// every namespace has them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "trace/containers.h"
#include "trace/flows.h"

namespace cgscope::trace {

// The addresses a fib_trie lists as "/32 host LOCAL" (each once, in order).
std::vector<IpAddress> parse_fib_trie_local(std::string_view text);
// The global-scope addresses of an if_inet6 file.
std::vector<IpAddress> parse_if_inet6(std::string_view text);

class AddressBook {
 public:
  explicit AddressBook(std::string cgroup2_mount) : mount_(std::move(cgroup2_mount)) {}

  // Reads the host's addresses (this process's namespace) and each container's.
  void refresh(const std::vector<ContainerInfo>& containers);
  // The owner of `addr`, nullopt when no namespace read has it.
  std::optional<Place> owner(const IpAddress& addr) const;
  // Whether a refresh is due: the last one is older than `interval`.
  bool stale(std::chrono::steady_clock::duration interval) const;

 private:
  void add_namespace(const std::string& pid, const Place& place);

  std::string mount_;
  std::unordered_map<std::string, Place> owners_;  // address bytes -> owner
  std::vector<unsigned long> seen_netns_;          // read in this refresh
  std::chrono::steady_clock::time_point refreshed_{};
};

}  // namespace cgscope::trace
