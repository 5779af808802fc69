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

// The rule and the route of a record, as the kernel is asked for them.
rtnl::Rule record_rule(const cgs_route_config& rec);
rtnl::Route record_route(const cgs_route_config& rec);

// "fwmark 0x63730064 lookup 100 (priority 32765)", "default via 198.18.0.1 dev eth1 table 100".
std::string describe_rule(const cgs_route_config& rec);
std::string describe_route(const cgs_route_config& rec);

// Fails (EEXIST) when `table` holds any route, or a rule matches `mark` or looks
// up `table`, in either family. Else the priority for the new rule of `family`:
// just before the first rule after "local", where `ip rule add` without a
// priority puts it.
Result<uint32_t> check_routing_free(rtnl::RtnlSocket& rt, uint32_t table, uint32_t mark, uint8_t family);

// The route, then the rule (marked traffic never looks up an empty table); when
// the rule fails, the route is deleted again.
Result<void> add_routing(rtnl::RtnlSocket& rt, const cgs_route_config& rec);

// Deletes the rule, then the route; either one missing is skipped. Appends a
// description of each deleted.
Result<void> delete_routing(rtnl::RtnlSocket& rt, const cgs_route_config& rec, std::vector<std::string>& deleted);

}  // namespace cgscope::proxy
