// The routing side of `cgscope proxy route`, through rtnetlink: the checks that
// table and mark are free, and the rule and the default route of a run's record,
// added and deleted. Both carry cgscope's protocol tag (CGS_ROUTE_PROTOCOL), and a
// delete names every field of what the run added, so it removes that or nothing.
#pragma once

#include <string>
#include <vector>

#include "cgscope/abi/proxy_route.h"
#include "core/result.h"
#include "core/rtnetlink.h"

namespace cgscope::proxy {

// What a record adds, as the kernel is asked for it, in the order it is added:
// in table N the default route via the gateway and, below it, an unreachable
// default route of each family (the guards); a rule "fwmark M lookup N" of each
// family. So the cgroup's traffic takes the gateway or fails: it never falls
// through to the main table, not when the gateway's device goes away and not
// for the family the gateway is not of.
std::vector<rtnl::Route> record_routes(const cgs_route_config& rec);
std::vector<rtnl::Rule> record_rules(const cgs_route_config& rec);

// "fwmark 0x63730064 lookup 100 (priority 32765, IPv4 and IPv6)",
// "default via 198.18.0.1 dev eth1 table 100, else unreachable".
std::string describe_rule(const cgs_route_config& rec);
std::string describe_route(const cgs_route_config& rec);

// Fails (EEXIST) when `table` holds any route, or a rule matches `mark` or looks
// up `table`, in either family. Else the priority for the new rules: just before
// the first rule after "local" of either family, where `ip rule add` without a
// priority puts one.
Result<uint32_t> check_routing_free(rtnl::RtnlSocket& rt, uint32_t table, uint32_t mark);

// The routes, then the rules (marked traffic never looks up an empty table);
// when one fails, what was added is deleted again.
Result<void> add_routing(rtnl::RtnlSocket& rt, const cgs_route_config& rec);

// Deletes the rules, then the routes; any one missing is skipped. Appends a
// description of each deleted.
Result<void> delete_routing(rtnl::RtnlSocket& rt, const cgs_route_config& rec, std::vector<std::string>& deleted);

}  // namespace cgscope::proxy
