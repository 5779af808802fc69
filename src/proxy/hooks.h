// The kernel side of `cgscope proxy` as one object: the programs of
// bpf/proxy.bpf.c loaded against maps pinned in the run's pin dir, attached to
// the cgroup through pinned links (core/pinned_hooks.h), configured, and read
// by the relay. The links stay when cgscope dies, so a proxied cgroup whose relay
// is gone is refused (fail closed) rather than let through; remove() takes them away.
#pragma once

#include <sys/socket.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgscope/abi/proxy.h"
#include "core/result.h"
#include "proxy/destination.h"

namespace cgscope::proxy {

// Where the state of a proxied cgroup lives: one dir per cgroup, so that proxies
// of several cgroups run side by side.
std::string pin_dir_for(uint64_t cgroup_id);

struct HookConfig {
  sockaddr_storage relay4{};            // AF_INET: the relay for IPv4 destinations
  // AF_INET: the relay for sockets of other network namespaces (a host address
  // routed from them); none: their connects are refused.
  std::optional<sockaddr_storage> relay4_ns;
  std::optional<sockaddr_storage> relay6;  // AF_INET6; none: IPv6 destinations are refused
  std::optional<sockaddr_storage> upstream;  // always reached directly
  std::vector<cgs_proxy_prefix> bypass;     // also direct
  // --dns: the forwarder's port of each slot on relay4's address and on
  // relay4_ns's, host order; empty: UDP is not touched.
  std::vector<uint16_t> dns_ports, dns_ns_ports;
  // --no-relay: TCP connects go unchanged and are reported at close (flows_fd);
  // relay4 is then unused.
  bool no_relay = false;
};

// The ABI's 16-byte address (mapped for IPv4) as a socket address with `host_port`.
sockaddr_storage address_from_abi(const cgs_addr& addr, uint16_t host_port);

class ProxyHooks {
 public:
  // Loads the programs; maps are created and pinned in `pin_dir` (made), or
  // taken over from a proxy of this cgroup that was killed (its fail-closed
  // hooks stay in place until this one's are swapped in). The pin dir is locked
  // for this object's life: a second proxy of the cgroup is refused (EBUSY).
  static Result<ProxyHooks> load(const std::string& pin_dir);
  // The pins were a killed proxy's: on a failure before attach they stay (the
  // cgroup stays fail closed) rather than being removed.
  bool took_over() const;
  ProxyHooks(ProxyHooks&&) noexcept;
  ProxyHooks& operator=(ProxyHooks&&) noexcept;
  ~ProxyHooks();

  // Bypass prefixes first, then the config that turns redirection on.
  Result<void> configure(const HookConfig& cfg);
  // Attaches the programs to the cgroup (pinned links): connect, getpeername and
  // sockops; with DNS on (configure), sendmsg, recvmsg and egress too.
  Result<void> attach(const std::string& cgroup_path, std::vector<std::string>* notes);
  // The original destination of a connection the relay accepted from `peer`,
  // taken out of the map (each is read once); nullopt when it was not redirected.
  std::optional<Original> take(const sockaddr_storage& peer) const;
  // A socket of cgscope's own (the relay's upstream side): never redirected.
  Result<void> exempt(int sock_fd) const;
  // The nameserver a DNS forwarder slot stands for (IPv4, port 53 as a rule);
  // nullopt while no program has asked one through it.
  std::optional<sockaddr_storage> dns_server(unsigned slot) const;
  // The cgroup id of the socket that sent the datagram the forwarder received
  // at `at` from `from`, as the cgroup's egress hook wrote it down within
  // CGS_PROXY_DNS_FRESH_NS; nullopt: not sent by the cgroup (or too long ago).
  std::optional<uint64_t> dns_client(const sockaddr_storage& at, const sockaddr_storage& from) const;
  // The ring of closed --no-relay connections (struct cgs_proxy_flow).
  int flows_fd() const;
  // The --no-relay connections open now, by socket cookie (struct cgs_proxy_flow).
  int open_fd() const;
  // Per-reason totals (enum cgs_proxy_stat).
  std::array<uint64_t, CGS_PROXY_STAT_NR> stats() const;
  const std::string& pin_dir() const;

 private:
  ProxyHooks() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Detaches the links and removes every pin of a proxy under `pin_dir`, then the
// dir. Missing pins are not an error. Returns the names removed.
Result<std::vector<std::string>> remove_proxy_pins(const std::string& pin_dir);

// Removes the pins of proxies whose owner is gone (nobody holds the pin dir's
// lock) and whose links are attached to no cgroup that exists (a killed `proxy
// run` whose cgroup the next run swept). A proxied cgroup that still exists keeps its pins: that is the
// fail-closed state, for `proxy reset`. Returns the pin dirs removed.
std::vector<std::string> remove_orphan_proxy_pins(const std::string& cgroup_mount);

// Whether a running cgscope proxy holds `pin_dir` (then `reset` must not take
// its hooks away under it).
bool proxy_pins_in_use(const std::string& pin_dir);

}  // namespace cgscope::proxy
