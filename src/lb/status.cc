#include "lb/status.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <unordered_map>

#include <fmt/format.h>

namespace cgscope::lb {

namespace {

const char* policy_of(uint32_t p) {
  switch (p) {
    case CGS_LB_POLICY_RANDOM: return "random";
    case CGS_LB_POLICY_STRICT: return "strict";
    case CGS_LB_POLICY_FAILOVER: return "failover";
  }
  return "unknown";
}

const char* stat_name(int i) {
  static const char* names[CGS_LB_STAT_NR] = {"internal_errors", "no_storage",     "exempt",
                                              "other_netns",     "workload_waypoint", "port_miss"};
  return names[i];
}

std::string hp(const cgs_addr& a, uint16_t port_be) {
  return format_host_port(HostPort{from_abi(a), ntohs(port_be)});
}

// Backend ids of one tier, each once in the order of its first slot, with its
// number of slots (its weight over the service's gcd of weights, config.h).
std::vector<std::pair<uint32_t, uint32_t>> tier_backends(const MapState& st, uint32_t id, uint32_t tier,
                                                         uint32_t count) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  std::unordered_map<uint32_t, size_t> at;  // backend -> its place in `out`
  for (uint32_t i = 0; i < count; i++) {
    auto e = st.endpoints.find({id, tier, i});
    uint32_t b = e == st.endpoints.end() ? 0 : e->second;
    auto [it, added] = at.emplace(b, out.size());
    if (added) out.push_back({b, 0});
    out[it->second].second++;
  }
  return out;
}

std::string backend_text(const MapState& st, uint32_t bid) {
  auto b = st.backends.find(bid);
  if (b == st.backends.end()) return fmt::format("<missing backend {}>", bid);
  std::string s = format_addr(from_abi(b->second.addr));
  if (b->second.wp_port) s += fmt::format(" (via waypoint {})", hp(b->second.wp_addr, b->second.wp_port));
  return s;
}

// Service id -> its addresses, in one pass (status of 100,000 services must not
// walk the frontends once per service).
std::map<uint32_t, std::vector<std::string>> addresses_by_service(const MapState& st) {
  std::map<uint32_t, std::vector<std::string>> out;
  for (const auto& [a, f] : st.frontends)
    if (f.kind == CGS_LB_KIND_SERVICE) out[f.id].push_back(format_addr(a));
  return out;
}

}  // namespace

Result<Status> read_status(const std::string& dir) {
  auto maps = PinnedMaps::open(dir);
  if (!maps) return fail_with(maps.error());
  Status s;
  s.pin_dir = dir;
  auto st = maps->read_state();
  if (!st) return fail_with(st.error());
  s.state = std::move(*st);
  auto c = maps->read_counters();
  if (!c) return fail_with(c.error());
  s.counters = std::move(*c);
  auto stats = maps->read_stats();
  if (!stats) return fail_with(stats.error());
  s.stats = std::move(*stats);
  s.links = read_links(dir);
  uint32_t zero = 0;
  cgs_lb_config cfg{};
  if (bpf_map_lookup_elem(maps->config_fd(), &zero, &cfg) == 0) s.netns_filter = cfg.netns_filter_on != 0;
  auto mem = map_memory_bytes(dir);
  if (mem) s.map_memory = *mem;
  return s;
}

nlohmann::json status_json(const Status& s) {
  using nlohmann::json;
  json j;
  j["pin_dir"] = s.pin_dir;
  json links = json::array();
  for (const LinkInfo& l : s.links)
    links.push_back({{"name", l.name},
                     {"pinned", l.present},
                     {"attached", l.present && l.cgroup_id != 0},  // a deleted cgroup leaves the link attached to none
                     {"cgroup_id", l.cgroup_id},
                     {"prog_id", l.prog_id}});
  j["links"] = links;
  j["netns_filter"] = s.netns_filter;
  j["map_memory_bytes"] = s.map_memory;
  json services = json::array();
  auto by_service = addresses_by_service(s.state);
  for (const auto& [id, v] : s.state.services) {
    json sv;
    auto n = s.state.names.find(id);
    sv["id"] = id;
    sv["name"] = n == s.state.names.end() ? "" : n->second;
    json addrs = json::array();
    for (const std::string& a : by_service[id]) addrs.push_back(a);
    sv["addresses"] = addrs;
    json ports = json::array();
    for (int i = 0; i < CGS_LB_MAX_PORTS && v.port[i]; i++)
      ports.push_back({{"port", ntohs(v.port[i])}, {"target_port", ntohs(v.target_port[i])}});
    sv["ports"] = ports;
    sv["policy"] = policy_of(v.policy);
    sv["waypoint"] = v.wp_port ? json(hp(v.wp_addr, v.wp_port)) : json(nullptr);
    sv["keep_original"] = !(v.flags & CGS_LB_SERVICE_F_NO_ORIG);
    sv["affinity_timeout"] = v.flags & CGS_LB_SERVICE_F_AFFINITY ? json(v.affinity_timeout) : json(nullptr);
    json tiers = json::array();
    for (uint32_t t = 0; t < CGS_LB_TIERS; t++) {
      json eps = json::array();
      for (auto [b, slots] : tier_backends(s.state, id, t, v.count[t])) {
        auto be = s.state.backends.find(b);
        json e = {{"backend_id", b}, {"slots", slots}};
        if (be != s.state.backends.end()) {
          e["address"] = format_addr(from_abi(be->second.addr));
          if (be->second.wp_port) e["waypoint"] = hp(be->second.wp_addr, be->second.wp_port);
        }
        eps.push_back(e);
      }
      tiers.push_back(eps);
    }
    sv["tiers"] = tiers;
    auto c = s.counters.find(id);
    sv["balanced"] = c == s.counters.end() ? 0 : c->second.balanced;
    sv["refused"] = c == s.counters.end() ? 0 : c->second.refused;
    sv["established"] = c == s.counters.end() ? 0 : c->second.established;
    sv["failed"] = c == s.counters.end() ? 0 : c->second.failed;
    services.push_back(sv);
  }
  j["services"] = services;
  json workloads = json::array();
  for (const auto& [a, f] : s.state.frontends) {
    if (f.kind != CGS_LB_KIND_BACKEND) continue;
    auto b = s.state.backends.find(f.id);
    workloads.push_back({{"address", format_addr(a)},
                         {"waypoint", b == s.state.backends.end() || !b->second.wp_port
                                          ? json(nullptr)
                                          : json(hp(b->second.wp_addr, b->second.wp_port))}});
  }
  j["workloads"] = workloads;
  json stats;
  for (int i = 0; i < CGS_LB_STAT_NR && i < static_cast<int>(s.stats.size()); i++) stats[stat_name(i)] = s.stats[i];
  j["stats"] = stats;
  return j;
}

namespace {

// Balanced connects and what became of them. Without the original destination
// kept, sockops has no record to find the service by, so no outcome is counted.
std::string counters_text(const cgs_lb_counters& c, bool untracked) {
  if (untracked) return fmt::format("  connects balanced {}, refused {} (no endpoint)\n", c.balanced, c.refused);
  return fmt::format("  connects balanced {} (established {}, failed {}), refused {} (no endpoint)\n", c.balanced,
                     c.established, c.failed, c.refused);
}

}  // namespace

std::string status_text(const Status& s) {
  std::string out;
  int attached = 0, orphaned = 0;
  uint64_t cg = 0;
  for (const LinkInfo& l : s.links) {
    attached += l.present && l.cgroup_id != 0;
    orphaned += l.present && l.cgroup_id == 0;
    if (l.cgroup_id) cg = l.cgroup_id;
  }
  out += fmt::format("lb state in {}: {}/{} hooks attached to cgroup id {}{}\n", s.pin_dir, attached, s.links.size(),
                     cg, s.netns_filter ? ", enrolled network namespaces only" : "");
  if (orphaned)
    out += fmt::format("  {} hooks are linked to a cgroup that has been deleted: nothing is balanced; `cgscope lb "
                       "reset --pin-dir {}`, then apply again\n",
                       orphaned, s.pin_dir);
  auto by_service = addresses_by_service(s.state);
  for (const auto& [id, v] : s.state.services) {
    auto n = s.state.names.find(id);
    std::string addrs;
    for (const std::string& a : by_service[id]) addrs += (addrs.empty() ? "" : ", ") + a;
    std::string ports;
    for (int i = 0; i < CGS_LB_MAX_PORTS && v.port[i]; i++)
      ports += fmt::format("{}{}->{}", ports.empty() ? "" : ", ", ntohs(v.port[i]), ntohs(v.target_port[i]));
    auto c = s.counters.find(id);
    out += fmt::format("service {} (id {}): {} ports {} policy {}{}{}{}\n", n == s.state.names.end() ? "?" : n->second,
                       id, addrs.empty() ? "(no address)" : addrs, ports, policy_of(v.policy),
                       v.wp_port ? " waypoint " + hp(v.wp_addr, v.wp_port) : "",
                       v.flags & CGS_LB_SERVICE_F_NO_ORIG ? " (original destination not kept)" : "",
                       v.flags & CGS_LB_SERVICE_F_AFFINITY ? fmt::format(" affinity client_ip {} s", v.affinity_timeout)
                                                           : "");
    bool any = false;
    for (uint32_t t = 0; t < CGS_LB_TIERS; t++) {
      if (!v.count[t]) continue;
      any = true;
      std::string eps;
      for (auto [b, slots] : tier_backends(s.state, id, t, v.count[t]))
        eps += (eps.empty() ? "" : ", ") + backend_text(s.state, b) + (slots > 1 ? fmt::format(" x{}", slots) : "");
      out += fmt::format("  tier {}: {}\n", t, eps);
    }
    if (!any) out += "  no endpoints: connects are refused\n";
    // A waypoint's connects keep their record whatever keep_original says.
    out += counters_text(c == s.counters.end() ? cgs_lb_counters{} : c->second,
                         (v.flags & CGS_LB_SERVICE_F_NO_ORIG) && !v.wp_port);
  }
  for (const auto& [a, f] : s.state.frontends)
    if (f.kind == CGS_LB_KIND_BACKEND) out += fmt::format("workload {} -> {}\n", format_addr(a), backend_text(s.state, f.id));
  std::string stats;
  for (int i = 0; i < CGS_LB_STAT_NR && i < static_cast<int>(s.stats.size()); i++)
    stats += fmt::format("{}{} {}", stats.empty() ? "" : ", ", stat_name(i), s.stats[i]);
  out += fmt::format("stats: {}\nmap memory: {:.1f} KiB\n", stats, s.map_memory / 1024.0);
  return out;
}

}  // namespace cgscope::lb
