#include "lb/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include <fmt/format.h>

namespace cgscope::lb {

socklen_t to_sockaddr(const HostPort& hp, sockaddr_storage* ss) {
  *ss = {};
  if (hp.addr.is_v4()) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(hp.port);
    std::memcpy(&s4->sin_addr, hp.addr.b.data() + 12, 4);
    return sizeof *s4;
  }
  auto* s6 = reinterpret_cast<sockaddr_in6*>(ss);
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(hp.port);
  std::memcpy(&s6->sin6_addr, hp.addr.b.data(), 16);
  return sizeof *s6;
}

bool Addr::is_v4() const {
  for (int i = 0; i < 10; i++)
    if (b[i] != 0) return false;
  return b[10] == 0xff && b[11] == 0xff;
}

Addr addr_v4(uint32_t host_order) {
  Addr a;
  a.b[10] = a.b[11] = 0xff;
  a.b[12] = host_order >> 24;
  a.b[13] = host_order >> 16;
  a.b[14] = host_order >> 8;
  a.b[15] = host_order;
  return a;
}

Result<Addr> parse_addr(std::string_view text) {
  std::string s(text);
  Addr a;
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return addr_v4(ntohl(v4.s_addr));
  if (s.find(':') != std::string::npos && inet_pton(AF_INET6, s.c_str(), a.b.data()) == 1) return a;
  return fail(fmt::format("'{}' is not an IPv4 or IPv6 address", s), EINVAL);
}

std::string format_addr(const Addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.is_v4()) inet_ntop(AF_INET, a.b.data() + 12, buf, sizeof(buf));
  else inet_ntop(AF_INET6, a.b.data(), buf, sizeof(buf));
  return buf;
}

static Result<uint16_t> parse_port_text(std::string_view s) {
  if (s.empty() || s.size() > 5) return fail(fmt::format("'{}' is not a port (1-65535)", s), EINVAL);
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return fail(fmt::format("'{}' is not a port (1-65535)", s), EINVAL);
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 65535) return fail(fmt::format("'{}' is not a port (1-65535)", s), EINVAL);
  return static_cast<uint16_t>(v);
}

Result<HostPort> parse_host_port(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(fmt::format("'{}' is not ADDRESS:PORT ([v6]:PORT for IPv6)", text), EINVAL);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon)
      return fail(fmt::format("'{}' is not ADDRESS:PORT ([v6]:PORT for IPv6)", text), EINVAL);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto a = parse_addr(host);
  if (!a) return fail_with(a.error());
  auto p = parse_port_text(port);
  if (!p) return fail_with(p.error());
  return HostPort{*a, *p};
}

std::string format_host_port(const HostPort& hp) {
  if (hp.addr.is_v4()) return fmt::format("{}:{}", format_addr(hp.addr), hp.port);
  return fmt::format("[{}]:{}", format_addr(hp.addr), hp.port);
}

namespace {

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

bool is_unspecified(const Addr& a) { return a.is_v4() ? all_zero(&a.b[12], 4) : all_zero(a.b.data(), 16); }
bool is_multicast(const Addr& a) { return a.is_v4() ? (a.b[12] & 0xf0) == 0xe0 : a.b[0] == 0xff; }
bool is_broadcast(const Addr& a) { return a.is_v4() && a.b[12] == 255 && a.b[13] == 255 && a.b[14] == 255 && a.b[15] == 255; }
bool is_loopback(const Addr& a) {
  if (a.is_v4()) return a.b[12] == 127;
  return all_zero(a.b.data(), 15) && a.b[15] == 1;
}

}  // namespace

std::optional<std::string> unusable_as(const Addr& a, AddrRole role) {
  if (is_unspecified(a)) return "the unspecified address cannot be used";
  if (is_multicast(a)) return fmt::format("{} is a multicast address, which takes no TCP connection", format_addr(a));
  if (is_broadcast(a)) return "the broadcast address takes no TCP connection";
  if (is_loopback(a) && (role == AddrRole::service || role == AddrRole::workload))
    return fmt::format(
        "{} is a loopback address, this host's own: lb would take over the connects local programs make to it; "
        "use an address of a service range (10.96.0.0/12, say)",
        format_addr(a));
  return std::nullopt;
}

}  // namespace cgscope::lb
