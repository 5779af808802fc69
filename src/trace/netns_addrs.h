// Which container (or the host) a local address belongs to: the addresses of
// each container's network namespace, read from one of its processes
// (/proc/PID/net/fib_trie for IPv4, /proc/PID/net/if_inet6 for IPv6), so that a
// flow to a container that is not traced still names it.
//
// With them, the servers of each namespace (proc_sockets.h): a flow to a local
// server that is not traced still names its process.
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
#include "trace/proc_sockets.h"

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
  // The process serving `port` at `addr` (a TCP listener, or a UDP socket bound
  // and connected to no one, on that address or on any address of its
  // namespace); nullopt when no namespace read has one.
  std::optional<SocketHolder> server(const IpAddress& addr, uint16_t port, bool udp) const;
  // Whether a refresh is due: the last one is older than `interval`.
  bool stale(std::chrono::steady_clock::duration interval) const;

 private:
  void add_namespace(const std::string& pid, const Place& place);
  void add_servers(const std::string& pid, const std::vector<IpAddress>& addrs);

  std::string mount_;
  std::unordered_map<std::string, Place> owners_;  // address bytes -> owner
  std::vector<unsigned long> seen_netns_;          // read in this refresh
  std::unordered_map<std::string, uint64_t> server_inodes_;  // server key -> socket inode
  std::unordered_map<std::string, SocketHolder> servers_;    // server key -> its process
  std::chrono::steady_clock::time_point refreshed_{};
};

}  // namespace cgscope::trace
