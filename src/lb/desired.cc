// desired_state(): the state the maps must hold for a config (planner.h), with
// the ids of what stays kept and the endpoint layout that lets a tier change
// in place. Sorted vectors rather than trees wherever a whole state is walked:
// 100,000 services pass through here on every apply.
#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>

#include "lb/planner.h"

namespace cgscope::lb {

namespace {

// Lowest ids >= 1 that neither `used` nor earlier calls hold. Ids are handed
// out in ascending order, so a sorted list of the used ones is all it keeps.
class IdAllocator {
 public:
  explicit IdAllocator(std::vector<uint32_t> used) : used_(std::move(used)) {
    std::sort(used_.begin(), used_.end());
  }
  Result<uint32_t> next() {
    for (;; next_++) {
      if (next_ == 0) return fail("no free id left", ENOSPC);
      while (pos_ < used_.size() && used_[pos_] < next_) pos_++;
      if (pos_ == used_.size() || used_[pos_] != next_) return next_++;
    }
  }

 private:
  std::vector<uint32_t> used_;
  size_t pos_ = 0;
  uint32_t next_ = 1;
};

template <class M>
void add_keys(const M& m, std::vector<uint32_t>& out) {
  for (const auto& kv : m) out.push_back(kv.first);
}

// A sorted vector of pairs, searched by its first element.
template <class K, class V>
const V* find_sorted(const std::vector<std::pair<K, V>>& v, const K& k) {
  auto it = std::lower_bound(v.begin(), v.end(), k, [](const auto& e, const K& key) { return e.first < key; });
  return it != v.end() && !(k < it->first) ? &it->second : nullptr;
}

// The layout of one tier: keep survivors in place below the new count, fill the
// freed slots with the survivors from beyond it (last first), then newcomers.
// `wanted` is a multiset: a backend of weight w is in it w times (config.h), and
// a slot survives while its backend still has slots to fill. Sorted vectors
// rather than sets: 100,000 services each run it seven times.
std::vector<uint32_t> layout_tier(const std::vector<uint32_t>& old, const std::vector<uint32_t>& wanted) {
  const size_t m = wanted.size();
  std::vector<std::pair<uint32_t, uint32_t>> left;  // backend -> slots still to place, sorted
  {
    std::vector<uint32_t> want(wanted);
    std::sort(want.begin(), want.end());
    for (uint32_t b : want)
      if (!left.empty() && left.back().first == b) left.back().second++;
      else left.push_back({b, 1});
  }
  auto take = [&](uint32_t b) {  // true while a wanted backend has a slot left to fill
    auto it = std::lower_bound(left.begin(), left.end(), b, [](const auto& e, uint32_t k) { return e.first < k; });
    if (it == left.end() || it->first != b || it->second == 0) return false;
    it->second--;
    return true;
  };
  std::vector<uint32_t> out(m, 0);
  for (size_t p = 0; p < std::min(old.size(), m); p++)
    if (take(old[p])) out[p] = old[p];
  std::vector<uint32_t> pending;
  for (size_t p = old.size(); p-- > m;)  // survivors in the tail, last one first
    if (take(old[p])) pending.push_back(old[p]);
  for (uint32_t b : wanted)
    if (take(b)) pending.push_back(b);
  size_t next = 0;
  for (size_t p = 0; p < m; p++)
    if (out[p] == 0) out[p] = pending[next++];
  return out;
}

using BackendIds = std::vector<std::pair<Addr, uint32_t>>;  // sorted by address

// Backends: one per address, endpoint or workload (a workload's carries its
// waypoint); ids kept by address, new ones above no id in use now (a backend
// on its way out must not be overwritten while an endpoint still names it).
Result<BackendIds> assign_backends(const Config& cfg, const MapState& cur, MapState& d) {
  using Wanted = std::pair<Addr, const Workload*>;
  std::vector<Wanted> wanted;
  for (const Service& s : cfg.services)
    for (const Endpoint& e : s.endpoints) wanted.push_back({e.address, nullptr});
  for (const Workload& w : cfg.workloads) wanted.push_back({w.address, &w});
  // By address, a workload's entry first, then one entry per address.
  std::sort(wanted.begin(), wanted.end(), [](const Wanted& a, const Wanted& b) {
    if (a.first != b.first) return a.first < b.first;
    return (a.second != nullptr) > (b.second != nullptr);
  });
  wanted.erase(
      std::unique(wanted.begin(), wanted.end(), [](const Wanted& a, const Wanted& b) { return a.first == b.first; }),
      wanted.end());
  BackendIds have;
  for (const auto& [id, v] : cur.backends) have.push_back({from_abi(v.addr), id});
  std::sort(have.begin(), have.end());  // the lowest id first where a killed apply left two
  std::vector<uint32_t> used;
  add_keys(cur.backends, used);
  IdAllocator ids(std::move(used));
  BackendIds out;
  out.reserve(wanted.size());
  for (const auto& [a, w] : wanted) {
    uint32_t id;
    if (const uint32_t* kept = find_sorted(have, a)) {
      id = *kept;
    } else {
      auto n = ids.next();
      if (!n) return fail_with("allocating a backend id", n.error());
      id = *n;
    }
    cgs_lb_backend_value v{};
    v.addr = to_abi(a);
    if (w) {
      v.wp_addr = to_abi(w->waypoint.addr);
      v.wp_port = htons(w->waypoint.port);
    }
    d.backends.emplace_hint(d.backends.end(), id, v);
    out.push_back({a, id});
  }
  return out;
}

cgs_lb_service_value service_value(const Service& s, bool keep_original_default) {
  cgs_lb_service_value v{};
  v.policy = s.policy == Policy::random   ? CGS_LB_POLICY_RANDOM
             : s.policy == Policy::strict ? CGS_LB_POLICY_STRICT
                                          : CGS_LB_POLICY_FAILOVER;
  for (size_t i = 0; i < s.ports.size() && i < CGS_LB_MAX_PORTS; i++) {
    v.port[i] = htons(s.ports[i].port);
    v.target_port[i] = htons(s.ports[i].target_port);
  }
  if (s.waypoint) {
    v.wp_addr = to_abi(s.waypoint->addr);
    v.wp_port = htons(s.waypoint->port);
  }
  if (!s.keeps_original(keep_original_default)) v.flags |= CGS_LB_SERVICE_F_NO_ORIG;
  if (s.affinity) {
    v.flags |= CGS_LB_SERVICE_F_AFFINITY;
    v.affinity_timeout = static_cast<uint16_t>(s.affinity_timeout);
  }
  return v;
}

// The endpoints of service `id` tier by tier (the layout rule of planner.h),
// with the counts in `v`.
void lay_out_endpoints(const Service& s, uint32_t id, const Config& cfg, const BackendIds& backend_of,
                       const MapState& cur, cgs_lb_service_value& v, MapState& d) {
  std::vector<uint32_t> wanted[CGS_LB_TIERS];  // a backend once per slot
  const uint32_t unit = weight_unit(s);
  for (const Endpoint& e : s.endpoints) {
    std::vector<uint32_t>& tier = wanted[endpoint_tier(s, e, cfg.node)];
    tier.insert(tier.end(), endpoint_slots(e, unit), *find_sorted(backend_of, e.address));
  }
  const cgs_lb_service_value* old = nullptr;
  if (auto o = cur.services.find(id); o != cur.services.end()) old = &o->second;
  std::vector<uint32_t> before;
  for (uint32_t t = 0; t < CGS_LB_TIERS; t++) {
    before.clear();
    for (uint32_t i = 0; old && i < old->count[t]; i++) {
      auto e = cur.endpoints.find({id, t, i});
      before.push_back(e == cur.endpoints.end() ? 0 : e->second);
    }
    std::vector<uint32_t> after = layout_tier(before, wanted[t]);
    v.count[t] = static_cast<uint32_t>(after.size());
    for (uint32_t i = 0; i < after.size(); i++) d.endpoints.emplace_hint(d.endpoints.end(), EndpointKey{id, t, i}, after[i]);
  }
}

}  // namespace

Result<MapState> desired_state(const Config& cfg, const MapState& cur) {
  MapState d;
  auto backend_of = assign_backends(cfg, cur, d);
  if (!backend_of) return fail_with(backend_of.error());

  // Services: ids kept by name. A new service never takes an id that still has
  // counters (see MapState).
  std::vector<std::pair<std::string_view, uint32_t>> by_name;
  for (const auto& [id, n] : cur.names) by_name.push_back({n, id});
  std::sort(by_name.begin(), by_name.end());
  std::vector<uint32_t> used(cur.counters.begin(), cur.counters.end());
  add_keys(cur.services, used);
  add_keys(cur.names, used);
  IdAllocator service_ids(std::move(used));
  for (const Service& s : cfg.services) {
    uint32_t id;
    if (const uint32_t* kept = find_sorted(by_name, std::string_view(s.name))) {
      id = *kept;
    } else {
      auto n = service_ids.next();
      if (!n) return fail_with("allocating a service id", n.error());
      id = *n;
    }
    d.names[id] = s.name;
    cgs_lb_service_value v = service_value(s, cfg.keep_original);
    lay_out_endpoints(s, id, cfg, *backend_of, cur, v, d);
    d.services[id] = v;
    for (const Addr& a : s.addresses) d.frontends[a] = cgs_lb_frontend_value{CGS_LB_KIND_SERVICE, id};
  }
  for (const Workload& w : cfg.workloads)
    d.frontends[w.address] = cgs_lb_frontend_value{CGS_LB_KIND_BACKEND, *find_sorted(*backend_of, w.address)};
  for (uint32_t id : cur.counters)
    if (d.services.count(id)) d.counters.insert(id);  // a kept service keeps its counts
  return d;
}

}  // namespace cgscope::lb
