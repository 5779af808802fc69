#include "proxy/destination.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>

namespace cgscope::proxy {

std::optional<Destination> make_destination(std::string_view ip, uint16_t port, std::string host) {
  Destination d;
  d.host = std::move(host);
  std::string text(ip);
  auto* in4 = reinterpret_cast<sockaddr_in*>(&d.addr);
  if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    d.len = sizeof(sockaddr_in);
    return d;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&d.addr);
  std::string scope;
  if (auto pct = text.find('%'); pct != std::string::npos) {
    scope = text.substr(pct + 1);
    text.resize(pct);
  }
  if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) != 1) return std::nullopt;
  if (!scope.empty()) {
    char* end = nullptr;
    unsigned long id = std::strtoul(scope.c_str(), &end, 10);
    if (end == scope.c_str() || *end) id = if_nametoindex(scope.c_str());
    if (id == 0) return std::nullopt;
    in6->sin6_scope_id = static_cast<uint32_t>(id);
  }
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  d.len = sizeof(sockaddr_in6);
  return d;
}

socklen_t address_length(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return sizeof(sockaddr_in);
  if (a.ss_family == AF_INET6) return sizeof(sockaddr_in6);
  return 0;
}

uint16_t address_port(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return 0;
}

std::string format_ip(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
    return buf;
  }
  if (a.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    std::string out = buf;
    if (in6.sin6_scope_id) out += "%" + std::to_string(in6.sin6_scope_id);
    return out;
  }
  return "";
}

std::string format_address(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return format_ip(a) + ":" + std::to_string(address_port(a));
  if (a.ss_family == AF_INET6) return "[" + format_ip(a) + "]:" + std::to_string(address_port(a));
  return "(none)";
}

std::string format_destination(const Destination& d) {
  if (d.host.empty()) return format_address(d.addr);
  std::string out = d.host + ":" + std::to_string(address_port(d.addr));
  if (d.len) out += " (" + format_address(d.addr) + ")";
  return out;
}

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto &x = reinterpret_cast<const sockaddr_in&>(a), &y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto &x = reinterpret_cast<const sockaddr_in6&>(a), &y = reinterpret_cast<const sockaddr_in6&>(b);
    return x.sin6_port == y.sin6_port && x.sin6_scope_id == y.sin6_scope_id &&
           std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
  }
  return false;
}

bool is_any_address(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr == htonl(INADDR_ANY);
  if (a.ss_family == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr);
  return false;
}

}  // namespace cgscope::proxy
