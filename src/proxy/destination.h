// Where a redirected connection was going, and who made it. Shared by the relay,
// the upstream clients and the access log; no sockets here, only values.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cgscope::proxy {

// An address:port, v4 or v6, plus an optional host name (known to a DNS forwarder
// that answered the lookup, say). addr always carries the port; when host is set
// the upstream is asked for the name (SOCKS5 domain, HTTP CONNECT host) rather
// than the address, so that the upstream resolves it.
struct Destination {
  sockaddr_storage addr{};
  socklen_t len = 0;  // 0: no address (not a usable destination)
  std::string host;   // "" when unknown
};

// Who made the connection (from the BPF record); unknown fields are zero/empty.
struct ConnMeta {
  uint64_t cgroup_id = 0;
  uint32_t pid = 0;
  std::string comm;
};

// What the relay learns about an accepted connection.
struct Original {
  Destination dst;
  ConnMeta meta;
};

// An AF_INET/AF_INET6 address from its text ("10.0.0.1", "::1", "fe80::1%2") and
// a port; nullopt when the text is not a numeric address.
std::optional<Destination> make_destination(std::string_view ip, uint16_t port, std::string host = "");

// The socklen_t that goes with the family: sizeof sockaddr_in / sockaddr_in6, 0 otherwise.
socklen_t address_length(const sockaddr_storage& a);

// The port in host order (0 for other families).
uint16_t address_port(const sockaddr_storage& a);

// "10.0.0.1:80", "[::1]:80", "(none)" for an empty or other-family address.
std::string format_address(const sockaddr_storage& a);

// The address without the port: "10.0.0.1", "::1".
std::string format_ip(const sockaddr_storage& a);

// "example.com:443 (93.184.216.34:443)" with a host name, else the address alone.
std::string format_destination(const Destination& d);

// Same family, address and port (v6: scope id too; the rest of the struct ignored).
bool same_address(const sockaddr_storage& a, const sockaddr_storage& b);

// 0.0.0.0 or ::, the "any" address a listener can bind to.
bool is_any_address(const sockaddr_storage& a);

}  // namespace cgscope::proxy
