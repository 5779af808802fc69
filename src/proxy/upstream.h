// The upstream a relay forwards through, from a --via URL:
//   socks5://[user:pass@]host:port    SOCKS5 (RFC 1928), user/pass auth (RFC 1929)
//   socks5h://[user:pass@]host:port   the same; the name the program dialled is sent when known
//   http://[user:pass@]host:port      HTTP CONNECT, Proxy-Authorization: Basic
//   direct                            the relay connects to the destination itself
// user and pass are percent-decoded ("p%40ss" is "p@ss"); an IPv6 literal is in
// brackets ("[::1]:1080"); the port is required. A host name is resolved once, at
// start, so that the relay never blocks on DNS and a bad name fails before any
// connection is taken.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cgscope::proxy {

struct Upstream {
  enum class Kind { direct, socks5, socks5h, http };
  Kind kind = Kind::direct;
  std::string host;  // as written in the URL (IPv6 without brackets)
  uint16_t port = 0;
  std::string user, pass;   // decoded; user empty: no authentication
  sockaddr_storage addr{};  // host:port resolved (len 0 for direct, or before resolve_upstream)
  socklen_t len = 0;
};

// Parses the URL without resolving anything (pure: unit tests and the fuzzer use
// it). Every error names the bad part: "--via "socks5://h": missing port ...".
Result<Upstream> parse_upstream_url(std::string_view url);

// Resolves u.host (getaddrinfo, the first address) into u.addr/u.len.
Result<void> resolve_upstream(Upstream& u);

// parse_upstream_url then resolve_upstream.
Result<Upstream> parse_upstream(std::string_view url);

// For logs, the password hidden: "socks5://bob:***@127.0.0.1:1080", "direct",
// and the resolved address after a host name: "http://proxy.lan:3128 (10.0.0.5:3128)".
std::string describe(const Upstream& u);

// "socks5", "socks5h", "http", "direct".
std::string_view kind_name(Upstream::Kind k);

}  // namespace cgscope::proxy
