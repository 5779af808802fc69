// Where sockets of other network namespaces find the relay. A bridged container
// or a build step cannot reach the host's 127.0.0.1; it reaches a host address
// that its own routes lead to: the host end of its veth, the bridge's address.
// When no --relay-addr is given, cgscope picks one:
//   1. the host address that a namespace of one of the cgroup's processes routes
//      to (its default gateway, or a host address it has a direct route to);
//   2. else docker0's address (a `docker build` step that has not started yet);
//   3. else the address of another bridge of the host.
// Any host address serves every namespace whose default route leads to the host
// (Linux delivers to a local address whatever the interface), so one is enough.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cgscope::proxy {

struct NsRelayChoice {
  sockaddr_storage addr{};  // AF_INET, port 0
  std::string why;          // "docker0's address", "the gateway of pid 42's network namespace"
};

// One line of /proc/PID/net/route, numbers as the kernel prints them (network
// order addresses as %08X of the stored value).
struct RouteLine {
  std::string dev;
  uint32_t dst = 0, gateway = 0, mask = 0;  // network order
};
// The routes of /proc/PID/net/route text; lines that do not parse are skipped.
std::vector<RouteLine> parse_proc_route(std::string_view text);

// The first of `routes` that leads to one of `host_addrs` (network order): a
// default route's gateway, else a host route's destination. nullopt: none does.
std::optional<uint32_t> route_to_host(const std::vector<RouteLine>& routes, const std::vector<uint32_t>& host_addrs);

// The pick above for the cgroup at `cgroup_path` (absolute); nullopt when the
// host has no address to offer (then other namespaces' connects are refused).
Result<std::optional<NsRelayChoice>> pick_ns_relay(const std::string& cgroup_path);

}  // namespace cgscope::proxy
