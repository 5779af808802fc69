// The URL grammar is the usual one (RFC 3986 authority), cut down to what a proxy
// URL needs: scheme "://" [userinfo "@"] host ":" port ["/"]. Anything else is an
// error rather than ignored, so that a typo never sends traffic somewhere unexpected.
#include "proxy/upstream.h"

#include <netdb.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>

#include "proxy/destination.h"

namespace cgscope::proxy {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX-decodes `in`; the error names `what` ("the password") and the bad escape.
Result<std::string> percent_decode(std::string_view in, std::string_view what) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      return fail("bad percent escape \"" + std::string(in.substr(i, 3)) + "\" in " + std::string(what) +
                  " (write %XX with two hex digits; a literal % is %25)");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::optional<Upstream::Kind> scheme_kind(std::string_view scheme) {
  std::string s = lower(scheme);
  if (s == "socks5") return Upstream::Kind::socks5;
  if (s == "socks5h") return Upstream::Kind::socks5h;
  if (s == "http") return Upstream::Kind::http;
  return std::nullopt;
}

bool host_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'; }

// "user:pass" into u.user/u.pass.
Result<void> parse_userinfo(std::string_view info, Upstream& u) {
  size_t colon = info.find(':');
  auto user = percent_decode(info.substr(0, colon), "the user name");
  if (!user) return fail_with(user.error());
  std::string pass;
  if (colon != std::string_view::npos) {
    auto p = percent_decode(info.substr(colon + 1), "the password");
    if (!p) return fail_with(p.error());
    pass = std::move(*p);
  }
  if (user->empty()) return fail("empty user name before '@' (write user:pass@host:port, or leave out the '@')");
  // RFC 1929 carries each in one length byte.
  if (u.kind != Upstream::Kind::http && (user->size() > 255 || pass.size() > 255))
    return fail("SOCKS5 user names and passwords are at most 255 bytes (RFC 1929)");
  u.user = std::move(*user);
  u.pass = std::move(pass);
  return {};
}

// "host:port", "[v6]:port" into u.host/u.port.
Result<void> parse_host_port(std::string_view hp, Upstream& u) {
  std::string_view host, port;
  if (!hp.empty() && hp.front() == '[') {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after the IPv6 address");
    auto h = percent_decode(hp.substr(1, close - 1), "the IPv6 address");  // a zone is written %25eth0
    if (!h) return fail_with(h.error());
    if (!make_destination(*h, 0)) return fail("\"" + *h + "\" is not an IPv6 address");
    if (h->find(':') == std::string::npos) return fail("brackets are for IPv6 addresses only, not \"" + *h + "\"");
    u.host = *h;
    std::string_view rest = hp.substr(close + 1);
    if (rest.empty() || rest.front() != ':')
      return fail("missing port after [" + u.host + "] (write [" + u.host + "]:PORT)");
    port = rest.substr(1);
  } else {
    size_t colon = hp.rfind(':');
    if (colon == std::string_view::npos) return fail("missing port (write " + std::string(hp) + ":PORT)");
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return fail("an IPv6 address goes in brackets: [" + std::string(host) + "]:" + std::string(port));
    if (host.empty()) return fail("missing host before the port");
    for (char c : host)
      if (!host_name_char(c)) return fail("bad character in host name \"" + std::string(host) + "\"");
    u.host = host;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty()) return fail("missing port number after ':'");
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    return fail("bad port \"" + std::string(port) + "\" (a number from 1 to 65535)");
  u.port = static_cast<uint16_t>(value);
  return {};
}

}  // namespace

std::string_view kind_name(Upstream::Kind k) {
  switch (k) {
    case Upstream::Kind::direct:
      return "direct";
    case Upstream::Kind::socks5:
      return "socks5";
    case Upstream::Kind::socks5h:
      return "socks5h";
    case Upstream::Kind::http:
      return "http";
  }
  return "?";
}

Result<Upstream> parse_upstream_url(std::string_view url) {
  const std::string quoted = "--via \"" + std::string(url) + "\": ";
  Upstream u;
  if (lower(url) == "direct" || lower(url) == "direct://") return u;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos)
    return fail(quoted + "not a URL (write socks5://host:port, socks5h://host:port, http://host:port or direct)");
  auto kind = scheme_kind(url.substr(0, sep));
  if (!kind)
    return fail(quoted + "unknown scheme \"" + std::string(url.substr(0, sep)) +
                "\" (socks5, socks5h, http or direct)");
  u.kind = *kind;
  std::string_view rest = url.substr(sep + 3);
  size_t path = rest.find_first_of("/?#");
  if (path != std::string_view::npos) {
    if (rest.substr(path) != "/")
      return fail(quoted + "unexpected \"" + std::string(rest.substr(path)) +
                  "\" after host:port (a proxy URL has no path or query)");
    rest = rest.substr(0, path);
  }
  // The last '@': a password with an unescaped '@' still parses the way it was meant.
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    if (auto r = parse_userinfo(rest.substr(0, at), u); !r) return fail(quoted + r.error().message);
    rest = rest.substr(at + 1);
  }
  if (rest.empty()) return fail(quoted + "missing host:port");
  if (auto r = parse_host_port(rest, u); !r) return fail(quoted + r.error().message);
  return u;
}

Result<void> resolve_upstream(Upstream& u) {
  if (u.kind == Upstream::Kind::direct) return {};
  if (auto d = make_destination(u.host, u.port)) {  // a literal: no lookup
    u.addr = d->addr;
    u.len = d->len;
    return {};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res);
  if (rc != 0) {
    std::string why = rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc);
    return fail("resolving the proxy host \"" + u.host + "\": " + why + " (check the name, or give an address)");
  }
  std::memcpy(&u.addr, res->ai_addr, res->ai_addrlen);
  u.len = static_cast<socklen_t>(res->ai_addrlen);
  freeaddrinfo(res);
  return {};
}

Result<Upstream> parse_upstream(std::string_view url) {
  auto u = parse_upstream_url(url);
  if (!u) return u;
  if (auto r = resolve_upstream(*u); !r) return fail("--via \"" + std::string(url) + "\": " + r.error().message);
  return u;
}

std::string describe(const Upstream& u) {
  if (u.kind == Upstream::Kind::direct) return "direct";
  std::string out = std::string(kind_name(u.kind)) + "://";
  if (!u.user.empty()) out += u.user + ":***@";  // the user name is not a secret; it helps a reader
  bool v6 = u.host.find(':') != std::string::npos;
  out += (v6 ? "[" + u.host + "]" : u.host) + ":" + std::to_string(u.port);
  if (u.len && !make_destination(u.host, u.port)) out += " (" + format_address(u.addr) + ")";
  return out;
}

}  // namespace cgscope::proxy
