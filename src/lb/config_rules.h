// The rules of an lb config that span entries (config.cc checks each entry on
// its own first): unique names and addresses, families the kernel can connect,
// endpoints and waypoints that are not service addresses, and the map
// capacities. Every check is a set or map lookup: a service with 100,000
// endpoints is checked in well under a second.
#pragma once

#include <optional>
#include <string>

#include "lb/config.h"

namespace cgscope::lb {

struct ConfigProblem {
  int line = 0;
  std::string what;
};

// The first rule `c` breaks; `root_line` is where a problem of the whole file
// (too many services) is reported.
std::optional<ConfigProblem> cross_check(const Config& c, int root_line);

}  // namespace cgscope::lb
