// What a `proxy route` request asks for, checked before anything is touched:
// the table, the mark, the gateway and the device, as values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/result.h"
#include "core/rtnetlink.h"
#include "proxy/route.h"

namespace cgscope::proxy {

struct RoutePlan {
  uint32_t table = 0;
  uint32_t mark = 0;
  rtnl::IpAddress gateway;
  std::string dev;       // "" : the kernel picks the device that reaches the gateway
  uint32_t ifindex = 0;  // of dev
};

// The mark of a table when --mark is not given: CGS_ROUTE_MARK_BASE ("cs" << 16)
// | table, so that `ip rule` shows which table a mark is for. Tables from 65536
// on have none (0): they need --mark.
uint32_t default_route_mark(uint32_t table);

// Checks the request. `ifindex_of` maps a device name to its index (0: no such
// device; if_nametoindex in the product, a table in tests).
Result<RoutePlan> make_route_plan(const RouteRequest& req,
                                  const std::function<uint32_t(const std::string&)>& ifindex_of);

}  // namespace cgscope::proxy
