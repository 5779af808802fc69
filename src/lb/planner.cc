// plan(), apply_op() and consistent() of planner.h (desired_state() is in
// desired.cc): pure, so every rule is unit-tested without root.
#include "lb/planner.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

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
template <class K, class V>
bool same_map(const std::map<K, V>& a, const std::map<K, V>& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
    if (!(i->first == j->first) || !same_bytes(&i->second, &j->second, sizeof(V))) return false;
  return true;
}
}  // namespace

bool MapState::operator==(const MapState& o) const {
  return same_map(frontends, o.frontends) && same_map(services, o.services) && names == o.names &&
         endpoints == o.endpoints && same_map(backends, o.backends) && counters == o.counters;
}

namespace {

template <class K>
Op make_op(MapKind map, OpKind kind, const K& key) {
  static_assert(sizeof(K) <= sizeof(Op::key_buf));
  Op op{map, kind};
  op.delta = kind == OpKind::remove ? -1 : 0;
  op.key_len = sizeof(K);
  std::memcpy(op.key_buf.data(), &key, sizeof(K));
  return op;
}

template <class K, class V>
Op make_update(ByteArena& arena, MapKind map, const K& key, const V& value) {
  static_assert(sizeof(V) <= 255);
  Op op = make_op(map, OpKind::update, key);
  op.value_len = sizeof(V);
  op.value_ptr = arena.copy(&value, sizeof(V));
  return op;
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

// Appends to `out` an update of map `m` for each entry of `want` that `have`
// lacks or holds differently.
template <class K, class V, class KeyFn, class ValFn>
int add_updates(const std::map<K, V>& have, const std::map<K, V>& want, MapKind m, KeyFn kf, ValFn vf, Plan& out) {
  int n = 0;
  auto h = have.begin();
  for (const auto& [k, v] : want) {  // both sorted: one merge-like walk
    while (h != have.end() && h->first < k) ++h;
    auto nv = vf(v);
    const bool present = h != have.end() && !(k < h->first);
    if (present) {
      auto ov = vf(h->second);
      if (same_bytes(&ov, &nv, sizeof(nv))) continue;
    }
    out.ops.push_back(make_update(out.values, m, kf(k), nv));
    out.ops.back().delta = present ? 0 : 1;
    n++;
  }
  return n;
}

// Appends a removal for each entry only `have` holds.
template <class K, class V, class KeyFn>
int add_removals(const std::map<K, V>& have, const std::map<K, V>& want, MapKind m, KeyFn kf, Plan& out) {
  int n = 0;
  auto w = want.begin();
  for (const auto& [k, v] : have) {
    while (w != want.end() && w->first < k) ++w;
    if (w == want.end() || k < w->first) out.ops.push_back(make_op(m, OpKind::remove, kf(k))), n++;
  }
  return n;
}

template <class T>
T id_of(T v) {
  return v;
}

}  // namespace

const uint8_t* ByteArena::copy(const void* p, size_t n) {
  if (used_ + n > kChunk) {
    chunks_.push_back(std::make_unique<uint8_t[]>(kChunk));
    used_ = 0;
  }
  uint8_t* at = chunks_.back().get() + used_;
  std::memcpy(at, p, n);
  used_ += n;
  return at;
}

Plan plan(const MapState& cur, const MapState& want) {
  Plan p;
  // At most one op per entry of either state. Reserved, the pages that are
  // never written cost nothing; grown by doubling, the vector would briefly
  // hold one and a half times its size.
  p.ops.reserve(cur.frontends.size() + cur.services.size() + cur.endpoints.size() + cur.backends.size() +
                cur.names.size() + cur.counters.size() + want.frontends.size() + want.services.size() +
                want.endpoints.size() + want.backends.size() + want.names.size());
  PlanSummary& sum = p.summary;
  // The order of planner.h: adds from the backends up, removals from the frontends down.
  sum.backends_written = add_updates(cur.backends, want.backends, MapKind::backend, bkey, id_of<cgs_lb_backend_value>, p);
  sum.endpoints_written = add_updates(cur.endpoints, want.endpoints, MapKind::endpoint, ekey, evalue, p);
  add_updates(cur.names, want.names, MapKind::name, skey, nvalue, p);
  int services_written = add_updates(cur.services, want.services, MapKind::service, skey, id_of<cgs_lb_service_value>, p);
  sum.frontends_written = add_updates(cur.frontends, want.frontends, MapKind::frontend, fkey, id_of<cgs_lb_frontend_value>, p);
  sum.frontends_removed = add_removals(cur.frontends, want.frontends, MapKind::frontend, fkey, p);
  sum.services_removed = add_removals(cur.services, want.services, MapKind::service, skey, p);
  for (uint32_t id : cur.counters)
    if (!want.counters.count(id)) p.ops.push_back(make_op(MapKind::counters, OpKind::remove, skey(id))), sum.counters_removed++;
  sum.endpoints_removed = add_removals(cur.endpoints, want.endpoints, MapKind::endpoint, ekey, p);
  add_removals(cur.names, want.names, MapKind::name, skey, p);
  sum.backends_removed = add_removals(cur.backends, want.backends, MapKind::backend, bkey, p);
  for (const auto& [id, v] : want.services) sum.services_added += !cur.services.count(id);
  sum.services_changed = services_written - sum.services_added;
  return p;
}

void apply_op(MapState& s, const Op& op) {
  bool up = op.kind == OpKind::update;
  switch (op.map) {
    case MapKind::backend: {
      auto k = op_bytes_as<cgs_lb_backend_key>(op.key()).id;
      if (up) s.backends[k] = op_bytes_as<cgs_lb_backend_value>(op.value());
      else s.backends.erase(k);
      break;
    }
    case MapKind::endpoint: {
      auto k = op_bytes_as<cgs_lb_endpoint_key>(op.key());
      EndpointKey ek{k.service_id, k.tier, k.index};
      if (up) s.endpoints[ek] = op_bytes_as<cgs_lb_endpoint_value>(op.value()).backend_id;
      else s.endpoints.erase(ek);
      break;
    }
    case MapKind::name: {
      auto k = op_bytes_as<cgs_lb_service_key>(op.key()).id;
      if (up) {
        auto v = op_bytes_as<cgs_lb_name_value>(op.value());
        v.name[sizeof(v.name) - 1] = 0;
        s.names[k] = v.name;
      } else {
        s.names.erase(k);
      }
      break;
    }
    case MapKind::service: {
      auto k = op_bytes_as<cgs_lb_service_key>(op.key()).id;
      if (up) s.services[k] = op_bytes_as<cgs_lb_service_value>(op.value());
      else s.services.erase(k);
      break;
    }
    case MapKind::frontend: {
      auto k = from_abi(op_bytes_as<cgs_lb_frontend_key>(op.key()).addr);
      if (up) s.frontends[k] = op_bytes_as<cgs_lb_frontend_value>(op.value());
      else s.frontends.erase(k);
      break;
    }
    case MapKind::counters:
      if (!up) s.counters.erase(op_bytes_as<cgs_lb_service_key>(op.key()).id);
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
