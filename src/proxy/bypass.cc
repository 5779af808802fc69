#include "proxy/bypass.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace cgscope::proxy {
namespace {

void mask(cgs_proxy_prefix& p) {
  for (unsigned word = 0; word < 4; word++) {
    unsigned first_bit = word * 32;
    uint32_t host = ntohl(p.addr.a[word]);
    if (p.prefixlen <= first_bit) host = 0;
    else if (p.prefixlen < first_bit + 32) host &= ~uint32_t(0) << (32 - (p.prefixlen - first_bit));
    p.addr.a[word] = htonl(host);
  }
}

}  // namespace

Result<cgs_proxy_prefix> parse_cidr(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(fmt::format("--bypass '{}': {} (give an address or a prefix: 10.0.0.0/8, fd00::/8)", text, why),
                EINVAL);
  };
  std::string_view ip = text, len;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    ip = text.substr(0, slash);
    len = text.substr(slash + 1);
  }
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) return bad("not an IP address");
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, ip.data(), ip.size());
  cgs_proxy_prefix p{};
  unsigned max_len;
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    p.addr.a[2] = htonl(0xffff);
    p.addr.a[3] = v4.s_addr;
    max_len = 32;
  } else if (inet_pton(AF_INET6, buf, p.addr.a) == 1) {
    max_len = 128;
  } else {
    return bad("not an IP address");
  }
  unsigned n = max_len;
  if (!len.empty() || text.find('/') != std::string_view::npos) {
    auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
    if (len.empty() || ec != std::errc() || end != len.data() + len.size() || n > max_len)
      return bad(fmt::format("the prefix length must be 0-{}", max_len));
  }
  p.prefixlen = max_len == 32 ? 96 + n : n;
  mask(p);
  return p;
}

std::string format_prefix(const cgs_proxy_prefix& p) {
  char buf[INET6_ADDRSTRLEN] = {};
  bool v4 = p.prefixlen >= 96 && p.addr.a[0] == 0 && p.addr.a[1] == 0 && p.addr.a[2] == htonl(0xffff);
  if (v4) {
    inet_ntop(AF_INET, &p.addr.a[3], buf, sizeof buf);
    return fmt::format("{}/{}", buf, p.prefixlen - 96);
  }
  inet_ntop(AF_INET6, p.addr.a, buf, sizeof buf);
  return fmt::format("{}/{}", buf, p.prefixlen);
}

}  // namespace cgscope::proxy
