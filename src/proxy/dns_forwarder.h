// The DNS forwarder of `cgscope proxy --dns`: the hooks send the cgroup's UDP
// queries to port 53 here, one port per nameserver (a slot, so a reply can be
// given the server's address and no lookup by client is needed); each query goes
// to its nameserver over TCP through the upstream (dns_exchange.h), and the
// reply back to the client from the same port. Answers are remembered in a
// NameCache, so that connections to the addresses they name can go to the
// upstream by name.
//
// Only the proxied cgroup is answered: `admit` (the cgroup's egress hook's
// record of each datagram it sent here) says whose a datagram is, and one that
// is nobody's is dropped unanswered, as if nothing listened (no REFUSED: that
// would tell a scanner that something does, and answer a forged source).
//
// One thread receives on every slot socket; a few workers do the exchanges, so
// that a slow nameserver does not hold up the others. A query that finds every
// worker busy and the queue full is dropped (the resolver asks again) and counted.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "proxy/name_cache.h"
#include "proxy/upstream.h"

namespace cgscope::proxy {

// One query as the log shows it.
struct DnsRecord {
  sockaddr_storage client{}, server{};
  uint64_t client_cgroup = 0;  // the cgroup id of the client's socket (admit)
  std::string name;    // "" when the query could not be read
  uint16_t type = 0;
  size_t answers = 0;  // A/AAAA records returned
  std::string error;   // "" when answered
  std::chrono::microseconds took{0};
};

struct DnsForwarderOptions {
  std::vector<sockaddr_storage> listen;  // IPv4 addresses, port 0: `slots` ports on each
  unsigned slots = 8;
  Upstream upstream;
  // The nameserver of a slot (the hooks' slot table); nullopt: none yet.
  std::function<std::optional<sockaddr_storage>(unsigned slot)> server_of;
  // Whose the datagram received at `at` from `from` is (a cgroup id); nullopt:
  // not the proxied cgroup's, dropped. Unset: every datagram is answered.
  std::function<std::optional<uint64_t>(const sockaddr_storage& at, const sockaddr_storage& from)> admit;
  std::function<void(int fd)> on_upstream_socket;  // before connect: exempt it
  std::function<void(const DnsRecord&)> on_query;  // after each query, from a worker
  NameCache* names = nullptr;
  std::chrono::milliseconds timeout{5000};
  unsigned workers = 4;
};

class DnsForwarder {
 public:
  // Binds every slot socket; fails (nothing left open) when one cannot be.
  static Result<std::unique_ptr<DnsForwarder>> create(DnsForwarderOptions opts);
  ~DnsForwarder();

  // The slot ports on listen[i], host order, slot by slot.
  std::vector<uint16_t> ports(size_t listen_index) const;
  // Receives and answers until `stop`; the workers are joined before it returns.
  Result<void> run(const std::atomic<bool>& stop);

  struct Stats {
    uint64_t queries = 0, answered = 0, failed = 0, dropped = 0;
    uint64_t foreign = 0;  // not sent by the proxied cgroup: dropped unanswered
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit DnsForwarder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgscope::proxy
