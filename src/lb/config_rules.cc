#include "lb/config_rules.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "cgscope/abi/lb.h"

namespace cgscope::lb {

namespace {

// Frontend address -> the service that has it (null for a workload's).
using Owners = std::map<Addr, const Service*>;

std::string owner_name(const Service* s) { return s ? "service " + s->name : std::string("a workload"); }

std::optional<ConfigProblem> claim_addresses(const Config& c, Owners& owner) {
  for (const Workload& w : c.workloads) {
    if (!owner.emplace(w.address, nullptr).second)
      return ConfigProblem{w.line, fmt::format("workload address {} is listed twice", format_addr(w.address))};
  }
  std::unordered_set<std::string_view> names;
  for (const Service& s : c.services) {
    if (!names.insert(s.name).second) return ConfigProblem{s.line, fmt::format("service name '{}' is used twice", s.name)};
    for (const Addr& a : s.addresses) {
      auto [it, added] = owner.emplace(a, &s);
      if (!added)
        return ConfigProblem{s.line, fmt::format("service {}: address {} is already used by {}", s.name,
                                                 format_addr(a), owner_name(it->second))};
    }
  }
  return std::nullopt;
}

// lb rewrites a connect once: one sent to another service's address goes to
// that address itself, where nothing listens, and the client hangs.
std::optional<std::string> is_service_address(const Owners& owner, const Addr& a) {
  auto it = owner.find(a);
  if (it == owner.end() || !it->second) return std::nullopt;
  return owner_name(it->second);
}

std::optional<ConfigProblem> check_service(const Service& s, const Owners& owner,
                                           const std::map<Addr, const Workload*>& workloads) {
  bool has_v4 = false;
  for (const Addr& a : s.addresses) has_v4 = has_v4 || a.is_v4();
  if (has_v4 && s.waypoint && !s.waypoint->addr.is_v4())
    return ConfigProblem{s.line, fmt::format("service {} has an IPv4 address, so its waypoint must be IPv4", s.name)};
  if (s.waypoint)
    if (auto other = is_service_address(owner, s.waypoint->addr))
      return ConfigProblem{s.line, fmt::format("service {}: waypoint {} is an address of {}; lb rewrites a connect "
                                               "once, so it would go there unbalanced and hang",
                                               s.name, format_host_port(*s.waypoint), *other)};
  for (const Endpoint& e : s.endpoints) {
    if (auto other = is_service_address(owner, e.address))
      return ConfigProblem{e.line, fmt::format("endpoint {} of service {} is an address of {}; lb rewrites a "
                                               "connect once, so connects would go to that address itself and "
                                               "hang: list {}'s endpoints here instead",
                                               format_addr(e.address), s.name, *other, *other)};
    const Addr* reached = &e.address;
    auto w = workloads.find(e.address);
    if (w != workloads.end()) reached = &w->second->waypoint.addr;
    if (has_v4 && !reached->is_v4())
      return ConfigProblem{e.line, fmt::format("service {} has an IPv4 address, so endpoint {} must be IPv4: an "
                                               "IPv4 socket cannot be sent to IPv6",
                                               s.name, format_addr(e.address))};
  }
  return std::nullopt;
}

std::optional<ConfigProblem> check_capacity(const Config& c, size_t frontends, int root_line) {
  size_t endpoints = 0;
  std::vector<Addr> backends;
  for (const Workload& w : c.workloads) backends.push_back(w.address);
  for (const Service& s : c.services) {
    const uint32_t unit = weight_unit(s);
    for (const Endpoint& e : s.endpoints) {
      endpoints += endpoint_slots(e, unit);  // what lb_endpoint holds: one entry per slot
      backends.push_back(e.address);
    }
  }
  std::sort(backends.begin(), backends.end());
  backends.erase(std::unique(backends.begin(), backends.end()), backends.end());
  struct Need {
    size_t have, cap;
    const char* what;
  } needs[] = {{c.services.size(), CGS_LB_MAX_SERVICES, "services"},
               {frontends, CGS_LB_MAX_FRONTENDS, "service and workload addresses"},
               {endpoints, CGS_LB_MAX_ENDPOINTS, "endpoint slots (an endpoint fills weight / gcd of its service's weights)"},
               {backends.size(), CGS_LB_MAX_BACKENDS, "distinct backend addresses"},
               {c.netns.size(), CGS_LB_MAX_NETNS, "network namespaces"}};
  for (const Need& n : needs)
    if (n.have > n.cap)
      return ConfigProblem{root_line, fmt::format("{} {} but the maps hold at most {}", n.have, n.what, n.cap)};
  return std::nullopt;
}

}  // namespace

std::optional<ConfigProblem> cross_check(const Config& c, int root_line) {
  Owners owner;
  if (auto p = claim_addresses(c, owner)) return p;
  std::map<Addr, const Workload*> workloads;
  for (const Workload& w : c.workloads) {
    workloads[w.address] = &w;
    if (auto other = is_service_address(owner, w.waypoint.addr))
      return ConfigProblem{w.line, fmt::format("workload {}: waypoint {} is an address of {}; lb rewrites a connect "
                                               "once, so it would go there unbalanced and hang",
                                               format_addr(w.address), format_host_port(w.waypoint), *other)};
  }
  for (const Service& s : c.services)
    if (auto p = check_service(s, owner, workloads)) return p;
  return check_capacity(c, owner.size(), root_line);
}

}  // namespace cgscope::lb
