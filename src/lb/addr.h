// Addresses as the lb maps hold them, their text forms, and what each kind of
// address may be used for in a config (a multicast address takes no TCP
// connection; a loopback one is the host's own and no service's).
#pragma once

#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cgscope::lb {

// An IP address in 16 bytes, network order: IPv6 as is, IPv4 as ::ffff:a.b.c.d
// (the form the kernel maps use, see include/cgscope/abi/lb.h).
struct Addr {
  std::array<uint8_t, 16> b{};
  bool is_v4() const;
  auto operator<=>(const Addr&) const = default;
};

Result<Addr> parse_addr(std::string_view text);
Addr addr_v4(uint32_t host_order);
std::string format_addr(const Addr& a);  // "10.0.0.1" or "fd00::1"

struct HostPort {
  Addr addr;
  uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};

// "10.0.0.1:15008" or "[fd00::1]:15008".
Result<HostPort> parse_host_port(std::string_view text);
std::string format_host_port(const HostPort& hp);  // the same forms

// `hp` as a socket address of its family (IPv4 for ::ffff:a.b.c.d); its length.
socklen_t to_sockaddr(const HostPort& hp, sockaddr_storage* ss);

// What an address stands for in the file.
enum class AddrRole { service, workload, endpoint, waypoint };

// Why `a` cannot serve as `role`, as a clause ("a multicast address takes no TCP
// connection"); nullopt when it can. Unspecified, multicast and the broadcast
// address are refused everywhere; loopback only where a connect to it would be
// taken over (service and workload addresses: local programs use them).
std::optional<std::string> unusable_as(const Addr& a, AddrRole role);

}  // namespace cgscope::lb
