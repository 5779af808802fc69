#include "proxy/route_plan.h"

#include <netinet/in.h>

#include <charconv>

#include <fmt/format.h>

#include "cgscope/abi/proxy_route.h"

namespace cgscope::proxy {
namespace {

// A whole number in decimal, or hex with 0x; nullopt for anything else.
std::optional<uint32_t> parse_u32(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

Result<uint32_t> parse_table(const std::string& text) {
  if (text.empty()) return fail("give the routing table with --table N (a number of a table of its own)", EINVAL);
  auto t = parse_u32(text);
  if (!t || *t == 0) return fail(fmt::format("--table '{}' is not a table number (1 to 4294967295)", text), EINVAL);
  // The kernel's own tables: main holds the host's routes, local its addresses.
  if (*t == 253 || *t == 254 || *t == 255)
    return fail(fmt::format("--table {} is the kernel's {} table; give a table of its own (e.g. 100)", *t,
                            *t == 253   ? "default"
                            : *t == 254 ? "main"
                                        : "local"),
                EINVAL);
  return *t;
}

Result<uint32_t> parse_mark(const std::string& text, uint32_t table) {
  if (text.empty()) {
    if (uint32_t m = default_route_mark(table)) return m;
    return fail(fmt::format("--table {} has no default mark (tables from 65536 on); give --mark M", table), EINVAL);
  }
  auto m = parse_u32(text);
  if (!m || *m == 0) return fail(fmt::format("--mark '{}' is not a non-zero 32-bit number (e.g. 0x64)", text), EINVAL);
  return *m;
}

Result<rtnl::IpAddress> parse_gateway(const std::string& text, bool have_dev) {
  if (text.empty())
    return fail("give the gateway with --via ADDRESS (a next hop on a directly connected network)", EINVAL);
  auto a = rtnl::parse_ip(text);
  if (!a)
    return fail(fmt::format("--via '{}' is not an IPv4 or IPv6 address (the gateway's, e.g. 192.168.1.1)", text),
                EINVAL);
  if (*a == rtnl::IpAddress{a->family, {}})
    return fail(fmt::format("--via {} is the unspecified address, not a gateway", text), EINVAL);
  // fe80::/10 exists on every link: which one is the device's to say.
  if (a->family == AF_INET6 && a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80 && !have_dev)
    return fail(fmt::format("--via {} is link-local: give the device it is on with --dev", text), EINVAL);
  return *a;
}

}  // namespace

uint32_t default_route_mark(uint32_t table) { return table <= 0xffff ? (CGS_ROUTE_MARK_BASE | table) : 0; }

Result<RoutePlan> make_route_plan(const RouteRequest& req,
                                  const std::function<uint32_t(const std::string&)>& ifindex_of) {
  RoutePlan p;
  auto table = parse_table(req.table);
  if (!table) return fail_with(table.error());
  p.table = *table;
  auto mark = parse_mark(req.mark, p.table);
  if (!mark) return fail_with(mark.error());
  p.mark = *mark;
  auto gw = parse_gateway(req.via, !req.dev.empty());
  if (!gw) return fail_with(gw.error());
  p.gateway = *gw;
  if (!req.dev.empty()) {
    p.dev = req.dev;
    p.ifindex = ifindex_of(req.dev);
    if (p.ifindex == 0)
      return fail(fmt::format("--dev {}: no such network device (`ip link` lists them)", req.dev), ENODEV);
  }
  return p;
}

}  // namespace cgscope::proxy
