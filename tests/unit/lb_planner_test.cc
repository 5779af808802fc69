#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <random>

#include <fmt/format.h>

#include "lb/config.h"
#include "lb/planner.h"

using namespace cgscope::lb;

namespace {

Addr ip(const std::string& s) { return *parse_addr(s); }

Service svc(const std::string& name, const std::string& addr, std::vector<std::string> eps,
            Policy p = Policy::random) {
  Service s;
  s.name = name;
  s.addresses = {ip(addr)};
  s.ports = {{80, 8080}};
  s.policy = p;
  for (const auto& e : eps) s.endpoints.push_back(Endpoint{ip(e), std::nullopt, std::nullopt, 0});
  return s;
}

// Applies the plan op by op, checking what a connect could see after each one.
MapState run(const MapState& from, const Config& cfg, Plan* out = nullptr) {
  auto want = desired_state(cfg, from);
  EXPECT_TRUE(want);
  Plan p = plan(from, *want);
  MapState s = from;
  for (size_t i = 0; i < p.ops.size(); i++) {
    apply_op(s, p.ops[i]);
    std::string why;
    EXPECT_TRUE(consistent(s, &why)) << "after op " << i << " (" << map_kind_name(p.ops[i].map) << "): " << why;
  }
  EXPECT_EQ(s.frontends.size(), want->frontends.size());
  EXPECT_EQ(s.endpoints, want->endpoints);
  EXPECT_EQ(s.names, want->names);
  EXPECT_EQ(s.backends.size(), want->backends.size());
  if (out) *out = std::move(p);
  return s;
}

std::vector<std::string> tier(const MapState& s, uint32_t id, uint32_t t) {
  std::vector<std::string> out;
  const auto& v = s.services.at(id);
  for (uint32_t i = 0; i < v.count[t]; i++)
    out.push_back(format_addr(from_abi(s.backends.at(s.endpoints.at({id, t, i})).addr)));
  return out;
}

uint32_t id_of(const MapState& s, const std::string& name) {
  for (const auto& [id, n] : s.names)
    if (n == name) return id;
  return 0;
}

int count_ops(const Plan& p, MapKind m, OpKind k) {
  int n = 0;
  for (const Op& o : p.ops) n += o.map == m && o.kind == k;
  return n;
}

}  // namespace

TEST(LbPlanner, FirstApplyWritesInDependencyOrder) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.2", "127.0.0.3"}), svc("b", "10.96.0.2", {"127.0.0.3"})};
  Plan p;
  MapState s = run({}, c, &p);
  // 2 backends (shared address: one backend), 3 endpoints, 2 names, 2 services, 2 frontends.
  EXPECT_EQ(p.ops.size(), 2u + 3 + 2 + 2 + 2);
  int last_rank = -1;
  for (const Op& o : p.ops) {
    int rank = static_cast<int>(o.map);
    EXPECT_GE(rank, last_rank) << "adds must go backend, endpoint, name, service, frontend";
    last_rank = rank;
  }
  EXPECT_EQ(tier(s, id_of(s, "a"), 0), (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
}

TEST(LbPlanner, ReapplyIsZeroWrites) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.2", "127.0.0.3"}), svc("b", "10.96.0.2", {})};
  c.workloads = {Workload{ip("10.244.0.5"), *parse_host_port("127.0.0.1:15008"), 0}};
  MapState s = run({}, c);
  Plan p;
  run(s, c, &p);
  EXPECT_TRUE(p.ops.empty());
  // Endpoint order in the file does not matter either.
  std::swap(c.services[0].endpoints[0], c.services[0].endpoints[1]);
  run(s, c, &p);
  EXPECT_TRUE(p.ops.empty());
}

TEST(LbPlanner, RemovedEndpointIsReplacedByLastThenCountShrinks) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.2", "127.0.0.3", "127.0.0.4"})};
  MapState s = run({}, c);
  uint32_t id = id_of(s, "a");
  c.services[0].endpoints.erase(c.services[0].endpoints.begin());  // drop .2 at index 0
  Plan p;
  MapState after = run(s, c, &p);
  EXPECT_EQ(tier(after, id, 0), (std::vector<std::string>{"127.0.0.4", "127.0.0.3"}));
  ASSERT_EQ(p.ops.size(), 4u);
  // index 0 <- last; count 3 -> 2; index 2 deleted; backend .2 deleted.
  EXPECT_EQ(p.ops[0].map, MapKind::endpoint);
  EXPECT_EQ(p.ops[0].kind, OpKind::update);
  EXPECT_EQ(p.ops[1].map, MapKind::service);
  EXPECT_EQ(p.ops[2].map, MapKind::endpoint);
  EXPECT_EQ(p.ops[2].kind, OpKind::remove);
  EXPECT_EQ(p.ops[3].map, MapKind::backend);
  EXPECT_EQ(p.ops[3].kind, OpKind::remove);
}

TEST(LbPlanner, SwapInPlaceKeepsTheCount) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.2", "127.0.0.3", "127.0.0.4"})};
  MapState s = run({}, c);
  c.services[0].endpoints[1].address = ip("127.0.0.9");
  Plan p;
  MapState after = run(s, c, &p);
  EXPECT_EQ(tier(after, id_of(after, "a"), 0), (std::vector<std::string>{"127.0.0.2", "127.0.0.9", "127.0.0.4"}));
  // new backend, one endpoint overwritten, old backend deleted: the service value is untouched.
  EXPECT_EQ(p.ops.size(), 3u);
  EXPECT_EQ(count_ops(p, MapKind::service, OpKind::update), 0);
}

TEST(LbPlanner, ShrinkMovesTailSurvivorsLastFirst) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"})};
  MapState s = run({}, c);
  c.services[0].endpoints = {c.services[0].endpoints[2], c.services[0].endpoints[3]};
  MapState after = run(s, c);
  EXPECT_EQ(tier(after, id_of(after, "a"), 0), (std::vector<std::string>{"127.0.0.4", "127.0.0.3"}));
}

TEST(LbPlanner, RemovalGoesFrontendFirstBackendLast) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.2"}), svc("b", "10.96.0.2", {"127.0.0.3"})};
  MapState s = run({}, c);
  s.counters.insert(id_of(s, "b"));  // the kernel made it at b's first connect
  c.services.pop_back();
  Plan p;
  run(s, c, &p);
  std::vector<MapKind> order;
  for (const Op& o : p.ops) {
    EXPECT_EQ(o.kind, OpKind::remove);
    order.push_back(o.map);
  }
  EXPECT_EQ(order, (std::vector<MapKind>{MapKind::frontend, MapKind::service, MapKind::counters, MapKind::endpoint,
                                         MapKind::name, MapKind::backend}));
  EXPECT_EQ(p.summary.services_removed, 1);
}

TEST(LbPlanner, IdsAreStableAndNeverReusedWithinAPlan) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.2"}), svc("b", "10.96.0.2", {"127.0.0.3"})};
  MapState s = run({}, c);
  uint32_t a = id_of(s, "a"), b = id_of(s, "b");
  c.services = {svc("b", "10.96.0.2", {"127.0.0.3"}), svc("c", "10.96.0.3", {"127.0.0.4"})};
  MapState after = run(s, c);
  EXPECT_EQ(id_of(after, "b"), b);
  EXPECT_NE(id_of(after, "c"), a);  // a's id is on its way out in this plan
  EXPECT_NE(id_of(after, "c"), b);
}

TEST(LbPlanner, AddressMovesBetweenServicesInOneWrite) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.2"}), svc("b", "10.96.0.2", {"127.0.0.3"})};
  MapState s = run({}, c);
  c.services[0].addresses = {ip("10.96.0.9")};
  c.services[1].addresses = {ip("10.96.0.1")};
  Plan p;
  MapState after = run(s, c, &p);
  EXPECT_EQ(after.frontends.at(ip("10.96.0.1")).id, id_of(after, "b"));
  EXPECT_EQ(count_ops(p, MapKind::frontend, OpKind::update), 2);
  EXPECT_EQ(count_ops(p, MapKind::frontend, OpKind::remove), 1);
}

TEST(LbPlanner, FailoverTiersAndPolicyChange) {
  Config c;
  c.node.v = {"r1", "z1", "", ""};
  Service s = svc("a", "10.96.0.1", {}, Policy::failover);
  s.prefer = {Scope::region, Scope::zone};
  Locality near, mid;
  near.v = {"r1", "z1", "", ""};
  mid.v = {"r1", "z2", "", ""};
  s.endpoints = {Endpoint{ip("127.0.0.2"), near, std::nullopt, 0}, Endpoint{ip("127.0.0.3"), mid, std::nullopt, 0},
                 Endpoint{ip("127.0.0.4"), std::nullopt, 5, 0}};
  c.services = {s};
  MapState st = run({}, c);
  uint32_t id = id_of(st, "a");
  EXPECT_EQ(tier(st, id, 0), std::vector<std::string>{"127.0.0.2"});
  EXPECT_EQ(tier(st, id, 1), std::vector<std::string>{"127.0.0.3"});
  EXPECT_EQ(tier(st, id, 5), std::vector<std::string>{"127.0.0.4"});
  EXPECT_EQ(st.services.at(id).policy, static_cast<uint32_t>(CGS_LB_POLICY_FAILOVER));
  c.services[0].policy = Policy::random;  // everything into tier 0
  MapState r = run(st, c);
  EXPECT_EQ(tier(r, id, 0).size(), 3u);
  EXPECT_EQ(r.services.at(id).count[1], 0u);
  EXPECT_EQ(r.endpoints.size(), 3u);
}

// A weight w fills w / gcd slots of the tier (config.h); slots that survive a
// change of weights stay where they are, as endpoints do.
TEST(LbPlanner, WeightsAreSlotsOverTheirGcd) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.2", "127.0.0.3", "127.0.0.4"})};
  c.services[0].endpoints[0].weight = 20;
  c.services[0].endpoints[1].weight = 60;
  c.services[0].endpoints[2].weight = 0;  // drained: listed, no connects
  MapState s = run({}, c);
  uint32_t id = id_of(s, "a");
  EXPECT_EQ(tier(s, id, 0), (std::vector<std::string>{"127.0.0.2", "127.0.0.3", "127.0.0.3", "127.0.0.3"}));
  c.services[0].endpoints[1].weight = 20;  // 1:1 now
  Plan p;
  MapState after = run(s, c, &p);
  EXPECT_EQ(tier(after, id, 0), (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  EXPECT_EQ(count_ops(p, MapKind::endpoint, OpKind::update), 0);  // the first two slots already hold that
  EXPECT_EQ(count_ops(p, MapKind::endpoint, OpKind::remove), 2);
  c.services[0].endpoints[0].weight = 0;
  c.services[0].endpoints[1].weight = 0;
  MapState none = run(after, c);
  EXPECT_EQ(none.services.at(id).count[0], 0u);  // no weight left: refused, as with no endpoints
}

TEST(LbPlanner, KeepOriginalIsAServiceFlagAndChangesInPlace) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"127.0.0.2"}), svc("b", "10.96.0.2", {"127.0.0.3"})};
  c.services[1].waypoint = *parse_host_port("127.0.0.1:15008");
  MapState s = run({}, c);
  EXPECT_EQ(s.services.at(id_of(s, "a")).flags, 0u);
  c.keep_original = false;  // b keeps it anyway: its waypoint needs it
  Plan p;
  MapState off = run(s, c, &p);
  EXPECT_EQ(off.services.at(id_of(off, "a")).flags, static_cast<uint32_t>(CGS_LB_SERVICE_F_NO_ORIG));
  EXPECT_EQ(off.services.at(id_of(off, "b")).flags, 0u);
  EXPECT_EQ(p.ops.size(), 1u);  // one service value rewritten, nothing else
  EXPECT_EQ(count_ops(p, MapKind::service, OpKind::update), 1);
}

TEST(LbPlanner, WorkloadWaypointIsABackendValue) {
  Config c;
  c.services = {svc("a", "10.96.0.1", {"10.244.0.5"})};
  c.workloads = {Workload{ip("10.244.0.5"), *parse_host_port("127.0.0.1:15008"), 0}};
  MapState s = run({}, c);
  ASSERT_EQ(s.backends.size(), 1u);  // the endpoint and the workload are one backend
  const auto& b = s.backends.begin()->second;
  EXPECT_EQ(ntohs(b.wp_port), 15008);
  auto f = s.frontends.at(ip("10.244.0.5"));
  EXPECT_EQ(f.kind, static_cast<uint32_t>(CGS_LB_KIND_BACKEND));
  c.workloads.clear();
  Plan p;
  MapState after = run(s, c, &p);
  EXPECT_EQ(after.backends.begin()->second.wp_port, 0);
  EXPECT_EQ(count_ops(p, MapKind::backend, OpKind::update), 1);  // updated in place, same id
}

// Random transitions: every intermediate state is consistent and the end state
// is the desired one; a second plan is empty.
TEST(LbPlanner, RandomTransitionsStayConsistent) {
  std::mt19937 rng(12345);
  auto random_config = [&] {
    Config c;
    c.node.v = {"r1", "z1", "", ""};
    int n = rng() % 8;
    for (int i = 0; i < n; i++) {
      int sid = rng() % 10;
      bool dup = false;
      for (const Service& s : c.services) dup = dup || s.name == fmt::format("s{}", sid);
      if (dup) continue;
      Service s = svc(fmt::format("s{}", sid), fmt::format("10.96.{}.{}", rng() % 3, sid), {},
                      static_cast<Policy>(rng() % 3));
      s.prefer = {Scope::region, Scope::zone};
      std::set<int> used;
      int eps = rng() % 7;
      for (int e = 0; e < eps; e++) {
        int b = rng() % 12;
        if (!used.insert(b).second) continue;
        Locality l;
        l.v = {rng() % 2 ? "r1" : "r2", rng() % 2 ? "z1" : "z2", "", ""};
        // Weights 0-3: slots repeat a backend, and a weight 0 endpoint has none.
        s.endpoints.push_back(Endpoint{ip(fmt::format("127.0.1.{}", b + 1)), l, std::nullopt, 0,
                                       static_cast<uint32_t>(rng() % 4)});
      }
      bool clash = false;
      for (const Service& o : c.services) clash = clash || o.addresses[0] == s.addresses[0];
      if (!clash) c.services.push_back(s);
    }
    return c;
  };
  MapState s;
  for (int round = 0; round < 300; round++) {
    Config c = random_config();
    s = run(s, c);
    Plan again;
    run(s, c, &again);
    ASSERT_TRUE(again.ops.empty()) << "round " << round;
  }
}
