#include "lb/planner.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>

namespace cgscope::lb {

const char* map_kind_name(MapKind m) {
  switch (m) {
    case MapKind::backend: return "backend";
    case MapKind::endpoint: return "endpoint";
    case MapKind::name: return "name";
    case MapKind::service: return "service";
    case MapKind::frontend: return "frontend";
    case MapKind::counters: return "counters";
  }
  return "?";
}

cgs_addr to_abi(const Addr& a) {
  cgs_addr r{};
  std::memcpy(r.a, a.b.data(), 16);
  return r;
}

Addr from_abi(const cgs_addr& a) {
  Addr r;
  std::memcpy(r.b.data(), a.a, 16);
  return r;
}

bool same_bytes(const void* a, const void* b, size_t n) { return std::memcmp(a, b, n) == 0; }

namespace {

// Lowest ids >= 1 that neither `used` nor earlier calls hold.
class IdAllocator {
 public:
  explicit IdAllocator(std::set<uint32_t> used) : used_(std::move(used)) {}
  Result<uint32_t> next() {
    while (used_.count(next_)) next_++;
    if (next_ == 0) return fail("no free id left", ENOSPC);
    used_.insert(next_);
    return next_++;
  }

 private:
  std::set<uint32_t> used_;
  uint32_t next_ = 1;
};

template <class M>
std::set<uint32_t> keys_of(const M& m) {
  std::set<uint32_t> s;
  for (const auto& kv : m) s.insert(kv.first);
  return s;
}

// The layout of one tier: keep survivors in place below the new count, fill the
// freed slots with the survivors from beyond it (last first), then newcomers.
std::vector<uint32_t> layout_tier(const std::vector<uint32_t>& old, const std::vector<uint32_t>& wanted) {
  const size_t m = wanted.size();
  std::set<uint32_t> want(wanted.begin(), wanted.end());
  std::vector<uint32_t> out(m, 0);
  std::set<uint32_t> placed;
  for (size_t p = 0; p < std::min(old.size(), m); p++) {
    if (want.count(old[p]) && !placed.count(old[p])) {
      out[p] = old[p];
      placed.insert(old[p]);
    }
  }
  std::vector<uint32_t> pending;
  for (size_t p = old.size(); p-- > m;)  // survivors in the tail, last one first
    if (want.count(old[p]) && placed.insert(old[p]).second) pending.push_back(old[p]);
  for (uint32_t b : wanted)
    if (placed.insert(b).second) pending.push_back(b);
  size_t next = 0;
  for (size_t p = 0; p < m; p++)
    if (out[p] == 0) out[p] = pending[next++];
  return out;
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  auto c = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(c, c + n);
}

template <class K>
Op make_op(MapKind map, OpKind kind, const K& key) {
  return Op{map, kind, bytes_of(&key, sizeof(key)), {}};
}

template <class K, class V>
Op make_update(MapKind map, const K& key, const V& value) {
  return Op{map, OpKind::update, bytes_of(&key, sizeof(key)), bytes_of(&value, sizeof(value))};
}

cgs_lb_service_key skey(uint32_t id) { return cgs_lb_service_key{id}; }
cgs_lb_backend_key bkey(uint32_t id) { return cgs_lb_backend_key{id}; }
cgs_lb_endpoint_key ekey(const EndpointKey& k) {
  return cgs_lb_endpoint_key{std::get<0>(k), std::get<1>(k), std::get<2>(k)};
}
cgs_lb_frontend_key fkey(const Addr& a) { return cgs_lb_frontend_key{to_abi(a)}; }
cgs_lb_name_value nvalue(const std::string& n) {
  cgs_lb_name_value v{};
  std::memcpy(v.name, n.data(), std::min(n.size(), sizeof(v.name) - 1));
  return v;
}
cgs_lb_endpoint_value evalue(uint32_t b) { return cgs_lb_endpoint_value{b}; }

}  // namespace

Result<MapState> desired_state(const Config& cfg, const MapState& cur) {
  MapState d;

  // Backends: one per address, endpoint or workload; a workload's carries its waypoint.
  std::map<Addr, uint32_t> cur_backend_of;
  for (const auto& [id, v] : cur.backends) cur_backend_of.emplace(from_abi(v.addr), id);
  std::map<Addr, cgs_lb_backend_value> want_backends;
  auto want_backend = [&](const Addr& a) -> cgs_lb_backend_value& {
    auto [it, added] = want_backends.try_emplace(a);
    if (added) {
      it->second = cgs_lb_backend_value{};
      it->second.addr = to_abi(a);
    }
    return it->second;
  };
  for (const Service& s : cfg.services)
    for (const Endpoint& e : s.endpoints) want_backend(e.address);
  for (const Workload& w : cfg.workloads) {
    cgs_lb_backend_value& v = want_backend(w.address);
    v.wp_addr = to_abi(w.waypoint.addr);
    v.wp_port = htons(w.waypoint.port);
  }
  std::set<uint32_t> kept_backend_ids;
  for (const auto& [a, v] : want_backends) {
    auto it = cur_backend_of.find(a);
    if (it != cur_backend_of.end()) kept_backend_ids.insert(it->second);
  }
  // New ids avoid every current id: a backend on its way out must not be
  // overwritten while an endpoint still names it.
  IdAllocator backend_ids(keys_of(cur.backends));
  std::map<Addr, uint32_t> backend_of;
  for (const auto& [a, v] : want_backends) {
    auto it = cur_backend_of.find(a);
    uint32_t id;
    if (it != cur_backend_of.end()) {
      id = it->second;
    } else {
      auto n = backend_ids.next();
      if (!n) return fail_with("allocating a backend id", n.error());
      id = *n;
    }
    backend_of[a] = id;
    d.backends[id] = v;
  }

  // Services: ids kept by name.
  std::map<std::string, uint32_t> cur_service_of;
  for (const auto& [id, n] : cur.names) cur_service_of.emplace(n, id);
  std::set<uint32_t> used_service_ids = keys_of(cur.services);
  for (const auto& [id, n] : cur.names) used_service_ids.insert(id);
  IdAllocator service_ids(used_service_ids);
  for (const Service& s : cfg.services) {
    uint32_t id;
    auto it = cur_service_of.find(s.name);
    if (it != cur_service_of.end()) {
      id = it->second;
    } else {
      auto n = service_ids.next();
      if (!n) return fail_with("allocating a service id", n.error());
      id = *n;
    }
    d.names[id] = s.name;

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
    if (!s.keeps_original(cfg.keep_original)) v.flags |= CGS_LB_SERVICE_F_NO_ORIG;
    std::vector<uint32_t> wanted[CGS_LB_TIERS];
    for (const Endpoint& e : s.endpoints)
      wanted[endpoint_tier(s, e, cfg.node)].push_back(backend_of.at(e.address));
    const cgs_lb_service_value* old = nullptr;
    if (auto o = cur.services.find(id); o != cur.services.end()) old = &o->second;
    for (uint32_t t = 0; t < CGS_LB_TIERS; t++) {
      std::vector<uint32_t> before;
      for (uint32_t i = 0; old && i < old->count[t]; i++) {
        auto e = cur.endpoints.find({id, t, i});
        before.push_back(e == cur.endpoints.end() ? 0 : e->second);
      }
      std::vector<uint32_t> after = layout_tier(before, wanted[t]);
      v.count[t] = static_cast<uint32_t>(after.size());
      for (uint32_t i = 0; i < after.size(); i++) d.endpoints[{id, t, i}] = after[i];
    }
    d.services[id] = v;
    for (const Addr& a : s.addresses) d.frontends[a] = cgs_lb_frontend_value{CGS_LB_KIND_SERVICE, id};
  }
  for (const Workload& w : cfg.workloads)
    d.frontends[w.address] = cgs_lb_frontend_value{CGS_LB_KIND_BACKEND, backend_of.at(w.address)};
  return d;
}

namespace {

// Updates (in `cur` order-free form) of map `m` for entries of `want` that `have`
// lacks or holds differently, and removals of entries only `have` holds.
template <class K, class V, class KeyFn, class ValFn>
void diff(const std::map<K, V>& have, const std::map<K, V>& want, MapKind m, KeyFn kf, ValFn vf,
          std::vector<Op>& updates, std::vector<Op>& removes) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    auto nv = vf(v);
    if (it == have.end()) {
      updates.push_back(make_update(m, kf(k), nv));
    } else {
      auto ov = vf(it->second);
      if (!same_bytes(&ov, &nv, sizeof(nv))) updates.push_back(make_update(m, kf(k), nv));
    }
  }
  for (const auto& [k, v] : have)
    if (!want.count(k)) removes.push_back(make_op(m, OpKind::remove, kf(k)));
}

template <class T>
T id_of(T v) {
  return v;
}

}  // namespace

Plan plan(const MapState& cur, const MapState& want) {
  std::vector<Op> b_up, b_rm, e_up, e_rm, n_up, n_rm, s_up, s_rm, f_up, f_rm;
  diff(cur.backends, want.backends, MapKind::backend, bkey, id_of<cgs_lb_backend_value>, b_up, b_rm);
  diff(cur.endpoints, want.endpoints, MapKind::endpoint, ekey, evalue, e_up, e_rm);
  diff(cur.names, want.names, MapKind::name, skey, nvalue, n_up, n_rm);
  diff(cur.services, want.services, MapKind::service, skey, id_of<cgs_lb_service_value>, s_up, s_rm);
  diff(cur.frontends, want.frontends, MapKind::frontend, fkey, id_of<cgs_lb_frontend_value>, f_up, f_rm);

  Plan p;
  PlanSummary& sum = p.summary;
  for (const auto& [id, v] : want.services) {
    if (!cur.services.count(id)) sum.services_added++;
  }
  sum.services_changed = static_cast<int>(s_up.size()) - sum.services_added;
  sum.services_removed = static_cast<int>(s_rm.size());
  sum.endpoints_written = static_cast<int>(e_up.size());
  sum.endpoints_removed = static_cast<int>(e_rm.size());
  sum.backends_written = static_cast<int>(b_up.size());
  sum.backends_removed = static_cast<int>(b_rm.size());
  sum.frontends_written = static_cast<int>(f_up.size());
  sum.frontends_removed = static_cast<int>(f_rm.size());

  std::vector<Op> c_rm;
  for (const Op& o : s_rm) c_rm.push_back(Op{MapKind::counters, OpKind::remove, o.key, {}});
  for (auto* phase : {&b_up, &e_up, &n_up, &s_up, &f_up, &f_rm, &s_rm, &c_rm, &e_rm, &n_rm, &b_rm})
    for (Op& o : *phase) p.ops.push_back(std::move(o));
  return p;
}

namespace {
template <class T>
T read_as(const std::vector<uint8_t>& b) {
  T v{};
  std::memcpy(&v, b.data(), std::min(b.size(), sizeof(T)));
  return v;
}
}  // namespace

void apply_op(MapState& s, const Op& op) {
  bool up = op.kind == OpKind::update;
  switch (op.map) {
    case MapKind::backend: {
      auto k = read_as<cgs_lb_backend_key>(op.key).id;
      if (up) s.backends[k] = read_as<cgs_lb_backend_value>(op.value);
      else s.backends.erase(k);
      break;
    }
    case MapKind::endpoint: {
      auto k = read_as<cgs_lb_endpoint_key>(op.key);
      EndpointKey ek{k.service_id, k.tier, k.index};
      if (up) s.endpoints[ek] = read_as<cgs_lb_endpoint_value>(op.value).backend_id;
      else s.endpoints.erase(ek);
      break;
    }
    case MapKind::name: {
      auto k = read_as<cgs_lb_service_key>(op.key).id;
      if (up) {
        auto v = read_as<cgs_lb_name_value>(op.value);
        v.name[sizeof(v.name) - 1] = 0;
        s.names[k] = v.name;
      } else {
        s.names.erase(k);
      }
      break;
    }
    case MapKind::service: {
      auto k = read_as<cgs_lb_service_key>(op.key).id;
      if (up) s.services[k] = read_as<cgs_lb_service_value>(op.value);
      else s.services.erase(k);
      break;
    }
    case MapKind::frontend: {
      auto k = from_abi(read_as<cgs_lb_frontend_key>(op.key).addr);
      if (up) s.frontends[k] = read_as<cgs_lb_frontend_value>(op.value);
      else s.frontends.erase(k);
      break;
    }
    case MapKind::counters:
      break;
  }
}

bool consistent(const MapState& s, std::string* why) {
  auto no = [&](std::string w) {
    if (why) *why = std::move(w);
    return false;
  };
  for (const auto& [addr, f] : s.frontends) {
    if (f.kind == CGS_LB_KIND_BACKEND) {
      if (!s.backends.count(f.id)) return no(fmt::format("frontend {} -> missing backend {}", format_addr(addr), f.id));
      continue;
    }
    auto sv = s.services.find(f.id);
    if (sv == s.services.end())
      return no(fmt::format("frontend {} -> missing service {}", format_addr(addr), f.id));
  }
  for (const auto& [id, v] : s.services) {
    for (uint32_t t = 0; t < CGS_LB_TIERS; t++) {
      for (uint32_t i = 0; i < v.count[t]; i++) {
        auto e = s.endpoints.find({id, t, i});
        if (e == s.endpoints.end()) return no(fmt::format("service {} tier {} index {} missing", id, t, i));
        if (!s.backends.count(e->second))
          return no(fmt::format("service {} tier {} index {} -> missing backend {}", id, t, i, e->second));
      }
    }
  }
  return true;
}

}  // namespace cgscope::lb
