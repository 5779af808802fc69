#include "proxy/route_table.h"

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace cgscope::proxy {
namespace {

constexpr uint32_t kFallbackPriority = 32765;  // before main (32766), as the kernel's default rules stand

rtnl::IpAddress record_gateway(const cgs_route_config& rec) {
  rtnl::IpAddress a;
  a.family = rec.family;
  std::memcpy(a.bytes.data(), rec.gateway, sizeof rec.gateway);
  return a;
}

std::string dev_name(uint32_t ifindex) {
  char name[IF_NAMESIZE] = "";
  if (if_indextoname(ifindex, name)) return name;
  return fmt::format("if{}", ifindex);
}

std::string describe(const rtnl::Route& r) {
  std::string s = r.dst_len == 0 ? "default" : fmt::format("{}/{}", rtnl::format_ip(r.dst), r.dst_len);
  if (r.gateway) s += " via " + rtnl::format_ip(*r.gateway);
  if (r.oif) s += " dev " + dev_name(r.oif);
  return s;
}

std::string describe(const rtnl::Rule& r) {
  std::string s = fmt::format("priority {}", r.priority);
  if (r.fwmask) s += fmt::format(" fwmark {:#x}/{:#x}", r.fwmark, r.fwmask);
  if (r.action == FR_ACT_TO_TBL) s += fmt::format(" lookup {}", r.table);
  if (r.protocol == CGS_ROUTE_PROTOCOL) s += " proto 197, a cgscope route's";
  return s;
}

// The refusal of a route that the kernel would not add, with what to check.
Failure route_refused(const cgs_route_config& rec, const Error& e) {
  std::string msg = fmt::format("adding the route `{}`: {}", describe_route(rec), e.message);
  if (e.code == ENETUNREACH || e.code == EHOSTUNREACH || e.message.find("gateway") != std::string::npos)
    msg += fmt::format("; the gateway must be on a network directly connected to {} (`ip route get {}`)",
                       rec.ifindex ? dev_name(rec.ifindex) : "this host", rtnl::format_ip(record_gateway(rec)));
  return fail(msg, e.code);
}

}  // namespace

rtnl::Rule record_rule(const cgs_route_config& rec) {
  rtnl::Rule r;
  r.family = rec.family;
  r.priority = rec.priority;
  r.fwmark = rec.mark;
  r.fwmask = 0xffffffff;
  r.table = rec.table;
  r.protocol = CGS_ROUTE_PROTOCOL;
  r.action = FR_ACT_TO_TBL;
  return r;
}

rtnl::Route record_route(const cgs_route_config& rec) {
  rtnl::Route r;
  r.family = rec.family;
  r.table = rec.table;
  r.gateway = record_gateway(rec);
  r.oif = rec.ifindex;
  r.protocol = CGS_ROUTE_PROTOCOL;
  r.type = RTN_UNICAST;
  return r;
}

std::string describe_rule(const cgs_route_config& rec) {
  return fmt::format("fwmark {:#x} lookup {} (priority {})", rec.mark, rec.table, rec.priority);
}

std::string describe_route(const cgs_route_config& rec) {
  return describe(record_route(rec)) + fmt::format(" table {}", rec.table);
}

Result<uint32_t> check_routing_free(rtnl::RtnlSocket& rt, uint32_t table, uint32_t mark, uint8_t family) {
  auto routes = rt.routes();
  if (!routes) return fail_with(routes.error());
  for (const rtnl::Route& r : *routes)
    if (r.table == table)
      return fail(fmt::format("table {} already has routes (`{}`, see `ip route show table {}`); give --table a table "
                              "nothing else uses",
                              table, describe(r), table),
                  EEXIST);
  auto rules = rt.rules();
  if (!rules) return fail_with(rules.error());
  uint32_t first = 0;  // the lowest priority after "local" (0) in `family`
  for (const rtnl::Rule& r : *rules) {
    if (r.fwmask && r.fwmark == mark)
      return fail(fmt::format("a rule already matches fwmark {:#x} (`{}`); give another --mark", mark, describe(r)),
                  EEXIST);
    if (r.action == FR_ACT_TO_TBL && r.table == table)
      return fail(fmt::format("a rule already looks up table {} (`{}`); give another --table", table, describe(r)),
                  EEXIST);
    if (r.family == family && r.priority > 0) first = first ? std::min(first, r.priority) : r.priority;
  }
  if (first == 1) return fail("no priority is free before the rules at priority 1 (`ip rule`)", EEXIST);
  return first ? first - 1 : kFallbackPriority;
}

Result<void> add_routing(rtnl::RtnlSocket& rt, const cgs_route_config& rec) {
  rtnl::Route route = record_route(rec);
  if (auto r = rt.change_route(RTM_NEWROUTE, route); !r) return route_refused(rec, r.error());
  if (auto r = rt.change_rule(RTM_NEWRULE, record_rule(rec)); !r) {
    (void)rt.change_route(RTM_DELROUTE, route);
    return fail_with(fmt::format("adding the rule `{}`", describe_rule(rec)), r.error());
  }
  return {};
}

Result<void> delete_routing(rtnl::RtnlSocket& rt, const cgs_route_config& rec, std::vector<std::string>& deleted) {
  if (auto r = rt.change_rule(RTM_DELRULE, record_rule(rec)); r)
    deleted.push_back("rule " + describe_rule(rec));
  else if (r.error().code != ENOENT)
    return fail_with(fmt::format("deleting the rule `{}`", describe_rule(rec)), r.error());
  // ESRCH: no such route; ENODEV: its device is gone, and the route with it.
  if (auto r = rt.change_route(RTM_DELROUTE, record_route(rec)); r)
    deleted.push_back("route " + describe_route(rec));
  else if (r.error().code != ESRCH && r.error().code != ENODEV)
    return fail_with(fmt::format("deleting the route `{}`", describe_route(rec)), r.error());
  return {};
}

}  // namespace cgscope::proxy
