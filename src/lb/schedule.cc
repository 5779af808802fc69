#include "lb/schedule.h"

#include <malloc.h>

#include <deque>
#include <functional>
#include <limits>
#include <queue>
#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace cgscope::lb {

size_t Capacity::of(MapKind m) const {
  switch (m) {
    case MapKind::frontend: return frontends;
    case MapKind::service: return services;
    case MapKind::endpoint: return endpoints;
    case MapKind::backend: return backends;
    case MapKind::name: return names;
    case MapKind::counters: break;
  }
  return std::numeric_limits<size_t>::max();
}

namespace {
int kind_index(MapKind m) { return static_cast<int>(m); }
}  // namespace

MapCounts entry_counts(const MapState& s) {
  MapCounts c{};
  c[kind_index(MapKind::frontend)] = s.frontends.size();
  c[kind_index(MapKind::service)] = s.services.size();
  c[kind_index(MapKind::endpoint)] = s.endpoints.size();
  c[kind_index(MapKind::backend)] = s.backends.size();
  c[kind_index(MapKind::name)] = s.names.size();
  c[kind_index(MapKind::counters)] = s.counters.size();
  return c;
}

namespace {


uint32_t id_key(const Op& op) { return op_bytes_as<cgs_lb_service_key>(op.key()).id; }  // backend keys alike
EndpointKey endpoint_key(const Op& op) {
  auto k = op_bytes_as<cgs_lb_endpoint_key>(op.key());
  return {k.service_id, k.tier, k.index};
}
Addr frontend_key(const Op& op) { return from_abi(op_bytes_as<cgs_lb_frontend_key>(op.key()).addr); }

std::vector<int> deltas_of(const std::vector<Op>& ops) {
  std::vector<int> d(ops.size());
  for (size_t i = 0; i < ops.size(); i++) d[i] = ops[i].delta;
  return d;
}

MapCounts peak_of(const MapState& cur, const std::vector<Op>& ops, const std::vector<int>& delta) {
  MapCounts now = entry_counts(cur), peak = now;
  for (size_t i = 0; i < ops.size(); i++) {
    size_t& n = now[kind_index(ops[i].map)];
    n += delta[i];
    peak[kind_index(ops[i].map)] = std::max(peak[kind_index(ops[i].map)], n);
  }
  return peak;
}

uint64_t pack(const EndpointKey& k) {
  return (uint64_t(std::get<0>(k)) << 32) | (uint64_t(std::get<1>(k)) << 24) | std::get<2>(k);
}

// Sorted (key, op) pairs: which op writes an entry, by binary search (a
// fraction of the memory of a hash table, for plans of a million ops).
template <class K>
class Lookup {
 public:
  void add(const K& k, int op) { v_.push_back({k, op}); }
  void sort() {
    std::sort(v_.begin(), v_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  int find(const K& k) const {
    auto it = std::lower_bound(v_.begin(), v_.end(), k, [](const auto& e, const K& key) { return e.first < key; });
    return it != v_.end() && !(k < it->first) ? it->second : -1;
  }

 private:
  std::vector<std::pair<K, int>> v_;
};

// Which op writes each entry, by map and kind.
struct OpIndex {
  Lookup<uint32_t> up[kMapKinds], rm[kMapKinds];  // by id (not endpoints and frontends)
  Lookup<uint64_t> endpoint;                       // either kind
  Lookup<Addr> frontend;                           // either kind

  explicit OpIndex(const std::vector<Op>& ops) {
    for (size_t i = 0; i < ops.size(); i++) {
      const Op& op = ops[i];
      int n = static_cast<int>(i);
      if (op.map == MapKind::endpoint) endpoint.add(pack(endpoint_key(op)), n);
      else if (op.map == MapKind::frontend) frontend.add(frontend_key(op), n);
      else (op.kind == OpKind::update ? up : rm)[kind_index(op.map)].add(id_key(op), n);
    }
    for (int m = 0; m < kMapKinds; m++) up[m].sort(), rm[m].sort();
    endpoint.sort();
    frontend.sort();
  }
  int update_of(MapKind m, uint32_t id) const { return up[kind_index(m)].find(id); }
  int removal_of(MapKind m, uint32_t id) const { return rm[kind_index(m)].find(id); }
};

// "a before b", as a graph the scheduler walks (edges from an op to those that wait for it).
class DepGraph {
 public:
  explicit DepGraph(size_t n) : waits_(n, 0), first_(n + 1, 0) {}
  void edge(int before, int after) {
    if (before < 0 || after < 0) return;
    edges_.push_back({before, after});
    waits_[after]++;
  }
  void finish() {
    for (const auto& e : edges_) first_[e.first + 1]++;
    for (size_t i = 1; i < first_.size(); i++) first_[i] += first_[i - 1];
    next_.resize(edges_.size());
    std::vector<uint32_t> pos(first_.begin(), first_.end() - 1);
    for (const auto& e : edges_) next_[pos[e.first]++] = e.second;
    edges_ = {};
  }
  uint32_t& waits(int i) { return waits_[i]; }
  template <class Fn>
  void for_next(int i, Fn&& fn) const {
    for (uint32_t k = first_[i]; k < first_[i + 1]; k++) fn(next_[k]);
  }

 private:
  std::vector<std::pair<int, int>> edges_;
  std::vector<uint32_t> waits_, first_;
  std::vector<int> next_;
};

// The rules of planner.h as edges. Endpoint writes wait for their new backend
// and go before their service's count; a service waits for its name; a
// frontend waits for what it will lead to, and goes before what it led to is
// removed; removals of endpoints, counters and names follow their service's
// write or removal; a backend goes only when nothing names it.
void entry_edges(const std::vector<Op>& ops, const OpIndex& idx, DepGraph& g) {
  for (size_t i = 0; i < ops.size(); i++) {
    const Op& op = ops[i];
    int n = static_cast<int>(i);
    bool up = op.kind == OpKind::update;
    if (op.map == MapKind::endpoint) {
      uint32_t sid = std::get<0>(endpoint_key(op));
      if (up) {
        g.edge(idx.update_of(MapKind::backend, op_bytes_as<cgs_lb_endpoint_value>(op.value()).backend_id), n);
        g.edge(n, idx.update_of(MapKind::service, sid));
      } else {
        int svc = idx.update_of(MapKind::service, sid);
        g.edge(svc >= 0 ? svc : idx.removal_of(MapKind::service, sid), n);
      }
    } else if (op.map == MapKind::name) {
      if (up) g.edge(n, idx.update_of(MapKind::service, id_key(op)));
      else g.edge(idx.removal_of(MapKind::service, id_key(op)), n);
    } else if (op.map == MapKind::counters) {
      g.edge(idx.removal_of(MapKind::service, id_key(op)), n);
    } else if (op.map == MapKind::frontend && up) {
      auto v = op_bytes_as<cgs_lb_frontend_value>(op.value());
      g.edge(idx.update_of(v.kind == CGS_LB_KIND_SERVICE ? MapKind::service : MapKind::backend, v.id), n);
    }
  }
}

void reference_edges(const MapState& cur, const OpIndex& idx, DepGraph& g) {
  for (const auto& [addr, f] : cur.frontends) {
    int op = idx.frontend.find(addr);
    g.edge(op, idx.removal_of(f.kind == CGS_LB_KIND_SERVICE ? MapKind::service : MapKind::backend, f.id));
  }
  for (const auto& [key, backend] : cur.endpoints) {
    int gone = idx.removal_of(MapKind::backend, backend);
    if (gone >= 0) g.edge(idx.endpoint.find(pack(key)), gone);
  }
}

// Kahn's walk of the graph: a ready removal first (it only makes room), else
// the ready write that comes first in the planner's order; a write into a
// full map waits until a removal from that map makes room.
struct Walk {
  const std::vector<Op>& ops;
  const std::vector<int>& delta;
  const Capacity& cap;
  DepGraph& g;
  MapCounts count;
  std::vector<int> order;
  std::deque<int> removals;
  std::priority_queue<int, std::vector<int>, std::greater<int>> writes;
  std::deque<int> blocked[kMapKinds];

  void ready(int i) {
    if (delta[i] < 0) removals.push_back(i);
    else writes.push(i);
  }
  void run() {
    for (size_t i = 0; i < ops.size(); i++)
      if (g.waits(static_cast<int>(i)) == 0) ready(static_cast<int>(i));
    while (!removals.empty() || !writes.empty()) {
      int i;
      if (!removals.empty()) {
        i = removals.front();
        removals.pop_front();
      } else {
        i = writes.top();
        writes.pop();
      }
      int m = kind_index(ops[i].map);
      if (delta[i] > 0 && count[m] >= cap.of(ops[i].map)) {
        blocked[m].push_back(i);
        continue;
      }
      count[m] += delta[i];
      order.push_back(i);
      if (delta[i] < 0 && !blocked[m].empty()) {
        writes.push(blocked[m].front());
        blocked[m].pop_front();
      }
      g.for_next(i, [&](int next) {
        if (--g.waits(next) == 0) ready(next);
      });
    }
  }
};

Failure no_order_fits(const Walk& w, const MapState& cur, const MapCounts& at_end, const Capacity& cap) {
  int m = 0;
  while (m < kMapKinds && w.blocked[m].empty()) m++;
  if (m == kMapKinds) m = kind_index(w.ops[w.order.size()].map);  // cannot happen: the graph has no cycle
  auto kind = static_cast<MapKind>(m);
  return fail(fmt::format("the change does not fit in the maps: lb_{} holds at most {} entries, it holds {} now "
                          "and would hold {} after, but every order of the writes that keeps each service whole "
                          "on the way needs more at once ({} of {} writes placed); nothing was written. Apply it "
                          "in two steps: first a file without the services that go away (their addresses are not "
                          "balanced in between), then this one",
                          map_kind_name(kind), cap.of(kind), entry_counts(cur)[m], at_end[m], w.order.size(),
                          w.ops.size()),
              E2BIG);
}

}  // namespace

MapCounts peak_entries(const MapState& cur, const std::vector<Op>& ops) {
  return peak_of(cur, ops, deltas_of(ops));
}

namespace {

// Puts ops[order[k]] at position k, in place (a plan may hold a million ops).
void permute(std::vector<Op>& ops, std::vector<int>& order) {
  for (size_t k = 0; k < ops.size(); k++) {
    if (order[k] == static_cast<int>(k)) continue;
    Op held = ops[k];
    size_t at = k;
    while (order[at] != static_cast<int>(k)) {
      size_t from = static_cast<size_t>(order[at]);
      ops[at] = ops[from];
      order[at] = static_cast<int>(at);
      at = from;
    }
    ops[at] = held;
    order[at] = static_cast<int>(at);
  }
}

}  // namespace

Result<Plan> plan_within(const MapState& cur, MapState want, const Capacity& cap) {
  Plan p = plan(cur, want);
  const MapCounts at_end = entry_counts(want);
  want = {};
  // glibc keeps the freed nodes of `want` for small allocations; the vectors
  // below are large ones. Handing the pages back keeps the peak near the
  // larger of the two phases rather than their sum (100,000 services: ~40 MiB).
  malloc_trim(0);
  std::vector<int> delta = deltas_of(p.ops);
  MapCounts peak = peak_of(cur, p.ops, delta);
  bool fits = true;
  for (int m = 0; m < kMapKinds; m++) fits = fits && peak[m] <= cap.of(static_cast<MapKind>(m));
  if (fits) return p;

  OpIndex idx(p.ops);
  DepGraph g(p.ops.size());
  entry_edges(p.ops, idx, g);
  reference_edges(cur, idx, g);
  g.finish();
  Walk w{p.ops, delta, cap, g, entry_counts(cur), {}, {}, {}, {}};
  w.order.reserve(p.ops.size());
  w.run();
  if (w.order.size() != p.ops.size()) return no_order_fits(w, cur, at_end, cap);
  permute(p.ops, w.order);
  p.reordered = true;
  return p;
}

}  // namespace cgscope::lb
