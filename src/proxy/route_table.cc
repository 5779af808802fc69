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
// The guard route's metric: the last of the table, below any route of its own.
constexpr uint32_t kGuardMetric = 0xffffffff;

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
  if (r.type == RTN_UNREACHABLE) s = (r.family == AF_INET6 ? "unreachable (IPv6) " : "unreachable (IPv4) ") + s;
  return s;
}

std::string describe(const rtnl::Rule& r) {
  std::string s = fmt::format("{} priority {}", r.family == AF_INET6 ? "IPv6" : "IPv4", r.priority);
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

uint8_t other_family(uint8_t family) { return family == AF_INET ? AF_INET6 : AF_INET; }

rtnl::Rule rule_of(const cgs_route_config& rec, uint8_t family) {
  rtnl::Rule r;
  r.family = family;
  r.priority = rec.priority;
  r.fwmark = rec.mark;
  r.fwmask = 0xffffffff;
  r.table = rec.table;
  r.protocol = CGS_ROUTE_PROTOCOL;
  r.action = FR_ACT_TO_TBL;
  return r;
}

rtnl::Route gateway_route(const cgs_route_config& rec) {
  rtnl::Route r;
  r.family = rec.family;
  r.table = rec.table;
  r.gateway = record_gateway(rec);
  r.oif = rec.ifindex;
  r.protocol = CGS_ROUTE_PROTOCOL;
  r.type = RTN_UNICAST;
  return r;
}

// The guard under the gateway route: when that route goes (its device went down
// or away, and the kernel removed the route with it), a lookup in the table ends
// here, unreachable, instead of finding nothing and going on to the main table,
// which would send the cgroup's traffic around the gateway.
rtnl::Route guard_route(const cgs_route_config& rec, uint8_t family) {
  rtnl::Route r;
  r.family = family;
  r.table = rec.table;
  r.metric = kGuardMetric;
  r.protocol = CGS_ROUTE_PROTOCOL;
  r.type = RTN_UNREACHABLE;
  return r;
}

// One of a record's rules, as the removal names it: "fwmark 0x63730064 lookup 100 (IPv6)".
std::string rule_text(const rtnl::Rule& r) {
  return fmt::format("fwmark {:#x} lookup {} ({})", r.fwmark, r.table, r.family == AF_INET6 ? "IPv6" : "IPv4");
}

// Takes back what add_routing added before it failed, last first.
void undo(rtnl::RtnlSocket& rt, const std::vector<rtnl::Route>& routes, const std::vector<rtnl::Rule>& rules) {
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) (void)rt.change_rule(RTM_DELRULE, *it);
  for (auto it = routes.rbegin(); it != routes.rend(); ++it) (void)rt.change_route(RTM_DELROUTE, *it);
}

}  // namespace

// The family the gateway is not of gets a rule and a guard too: the cgroup's
// marked sockets are of both families, and without a rule of its own that family
// would take the main table, around the gateway.
std::vector<rtnl::Route> record_routes(const cgs_route_config& rec) {
  return {gateway_route(rec), guard_route(rec, rec.family), guard_route(rec, other_family(rec.family))};
}

std::vector<rtnl::Rule> record_rules(const cgs_route_config& rec) {
  return {rule_of(rec, rec.family), rule_of(rec, other_family(rec.family))};
}

std::string describe_rule(const cgs_route_config& rec) {
  return fmt::format("fwmark {:#x} lookup {} (priority {}, IPv4 and IPv6)", rec.mark, rec.table, rec.priority);
}

std::string describe_route(const cgs_route_config& rec) {
  return describe(gateway_route(rec)) + fmt::format(" table {}, else unreachable", rec.table);
}

Result<uint32_t> check_routing_free(rtnl::RtnlSocket& rt, uint32_t table, uint32_t mark) {
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
  uint32_t first = 0;  // the lowest priority after "local" (0), of either family: the rules of both go there
  for (const rtnl::Rule& r : *rules) {
    if (r.fwmask && r.fwmark == mark)
      return fail(fmt::format("a rule already matches fwmark {:#x} (`{}`); give another --mark", mark, describe(r)),
                  EEXIST);
    if (r.action == FR_ACT_TO_TBL && r.table == table)
      return fail(fmt::format("a rule already looks up table {} (`{}`); give another --table", table, describe(r)),
                  EEXIST);
    if (r.priority > 0) first = first ? std::min(first, r.priority) : r.priority;
  }
  if (first == 1) return fail("no priority is free before the rules at priority 1 (`ip rule`)", EEXIST);
  return first ? first - 1 : kFallbackPriority;
}

Result<void> add_routing(rtnl::RtnlSocket& rt, const cgs_route_config& rec) {
  std::vector<rtnl::Route> routes_added;
  std::vector<rtnl::Rule> rules_added;
  for (const rtnl::Route& route : record_routes(rec)) {
    if (auto r = rt.change_route(RTM_NEWROUTE, route); !r) {
      undo(rt, routes_added, rules_added);
      if (route.type == RTN_UNICAST) return route_refused(rec, r.error());
      return fail_with(fmt::format("adding the route `{} table {}`", describe(route), rec.table), r.error());
    }
    routes_added.push_back(route);
  }
  for (const rtnl::Rule& rule : record_rules(rec)) {
    if (auto r = rt.change_rule(RTM_NEWRULE, rule); !r) {
      undo(rt, routes_added, rules_added);
      return fail_with(fmt::format("adding the rule `{}`", rule_text(rule)), r.error());
    }
    rules_added.push_back(rule);
  }
  return {};
}

Result<void> delete_routing(rtnl::RtnlSocket& rt, const cgs_route_config& rec, std::vector<std::string>& deleted) {
  for (const rtnl::Rule& rule : record_rules(rec)) {
    if (auto r = rt.change_rule(RTM_DELRULE, rule); r)
      deleted.push_back("rule " + rule_text(rule));
    else if (r.error().code != ENOENT)
      return fail_with(fmt::format("deleting the rule `{}`", rule_text(rule)), r.error());
  }
  // ESRCH: no such route (a record of a run from before the guards, say);
  // ENODEV: its device is gone, and the route with it.
  for (const rtnl::Route& route : record_routes(rec)) {
    if (auto r = rt.change_route(RTM_DELROUTE, route); r)
      deleted.push_back(fmt::format("route {} table {}", describe(route), rec.table));
    else if (r.error().code != ESRCH && r.error().code != ENODEV)
      return fail_with(fmt::format("deleting the route `{} table {}`", describe(route), rec.table), r.error());
  }
  return {};
}

}  // namespace cgscope::proxy
