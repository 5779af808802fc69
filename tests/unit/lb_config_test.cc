#include <gtest/gtest.h>

#include <cstdio>

#include <fmt/format.h>

#include "cgscope/abi/lb.h"
#include "lb/config.h"

using namespace cgscope::lb;

namespace {

const char* kGood = R"(node: {region: r1, zone: z1, subzone: s1, node: n1}
services:
  - name: web
    addresses: [10.96.0.10, "fd00::10"]
    ports: [{port: 80, target_port: 8080}, 443]
    policy: failover
    prefer: [region, zone]
    endpoints:
      - {address: 127.0.0.2, locality: {region: r1, zone: z1}}
      - {address: 127.0.0.3, locality: {region: r1, zone: z2}}
      - {address: 127.0.0.4, priority: 2}
      - {address: 127.0.0.5, locality: {region: r2, zone: z1}}
      - {address: 127.0.0.6}
workloads:
  - {address: 10.244.1.5, waypoint: 127.0.0.1:15008}
)";

std::string error_of(const std::string& text) {
  auto r = parse_config(text, "f.yaml");
  return r ? std::string("(ok)") : r.error().message;
}

}  // namespace

TEST(LbConfig, ParsesTheExample) {
  auto r = parse_config(kGood, "f.yaml");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->services.size(), 1u);
  const Service& s = r->services[0];
  EXPECT_EQ(s.name, "web");
  ASSERT_EQ(s.addresses.size(), 2u);
  EXPECT_TRUE(s.addresses[0].is_v4());
  EXPECT_FALSE(s.addresses[1].is_v4());
  EXPECT_EQ(format_addr(s.addresses[1]), "fd00::10");
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].port, 80);
  EXPECT_EQ(s.ports[0].target_port, 8080);
  EXPECT_EQ(s.ports[1].target_port, 443);  // a bare port maps to itself
  EXPECT_EQ(s.policy, Policy::failover);
  ASSERT_EQ(r->workloads.size(), 1u);
  EXPECT_EQ(r->workloads[0].waypoint.port, 15008);
  EXPECT_EQ(r->node.get(Scope::zone), "z1");
}

TEST(LbConfig, TiersFollowLocalityPrefixAndExplicitPriority) {
  auto r = parse_config(kGood, "f.yaml");
  ASSERT_TRUE(r);
  const Service& s = r->services[0];
  EXPECT_EQ(endpoint_tier(s, s.endpoints[0], r->node), 0);  // region+zone match
  EXPECT_EQ(endpoint_tier(s, s.endpoints[1], r->node), 1);  // region only
  EXPECT_EQ(endpoint_tier(s, s.endpoints[2], r->node), 2);  // explicit
  EXPECT_EQ(endpoint_tier(s, s.endpoints[3], r->node), 2);  // region differs: zone match does not count
  EXPECT_EQ(endpoint_tier(s, s.endpoints[4], r->node), 2);  // no locality: last tier
  Service rnd = s;
  rnd.policy = Policy::random;
  for (const Endpoint& e : rnd.endpoints) EXPECT_EQ(endpoint_tier(rnd, e, r->node), 0);
}

TEST(LbConfig, ErrorsCarryFileAndLine) {
  std::string bad_port = "services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [{port: 70000}]\n";
  EXPECT_EQ(error_of(bad_port), "f.yaml:4: port '70000' must be a whole number from 1 to 65535");
  std::string bad_addr = "services:\n  - name: a\n    addresses: [10.0.0.300]\n    ports: [80]\n";
  EXPECT_EQ(error_of(bad_addr), "f.yaml:3: service address: '10.0.0.300' is not an IPv4 or IPv6 address");
  std::string yaml_err = "services:\n  - name: a\n    addresses: [10.0.0.1\n";
  EXPECT_NE(error_of(yaml_err).find("f.yaml:"), std::string::npos);
}

TEST(LbConfig, RejectsDuplicatesAcrossServices) {
  std::string dup = "services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [80]\n"
                    "  - name: b\n    addresses: [10.0.0.1]\n    ports: [80]\n";
  EXPECT_EQ(error_of(dup), "f.yaml:5: service b: address 10.0.0.1 is already used by service a");
  std::string dup_name = "services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [80]\n"
                         "  - name: a\n    addresses: [10.0.0.2]\n    ports: [80]\n";
  EXPECT_EQ(error_of(dup_name), "f.yaml:5: service name 'a' is used twice");
  std::string dup_ep = "services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [80]\n"
                       "    endpoints: [{address: 1.1.1.1}, {address: 1.1.1.1}]\n";
  EXPECT_NE(error_of(dup_ep).find("listed twice"), std::string::npos);
}

TEST(LbConfig, RejectsWhatTheKernelCannotDo) {
  // An IPv4 socket cannot be sent to an IPv6 backend.
  std::string v6ep = "services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [80]\n"
                     "    endpoints: [{address: 'fd00::1'}]\n";
  EXPECT_NE(error_of(v6ep).find("must be IPv4"), std::string::npos);
  // A v6-only service may use IPv4 backends (reached as ::ffff:a.b.c.d).
  std::string v6svc = "services:\n  - name: a\n    addresses: ['fd00::10']\n    ports: [80]\n"
                      "    endpoints: [{address: 127.0.0.2}]\n";
  EXPECT_EQ(error_of(v6svc), "(ok)");
  std::string ports = "services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [1,2,3,4,5,6,7,8,9]\n";
  EXPECT_NE(error_of(ports).find("at most 8"), std::string::npos);
  std::string prio = "services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [80]\n"
                     "    endpoints: [{address: 1.1.1.1, priority: 7}]\n";
  EXPECT_NE(error_of(prio).find("from 0 to 6"), std::string::npos);
}

TEST(LbConfig, RejectsUnknownKeysAndBadValues) {
  EXPECT_EQ(error_of("services:\n  - name: a\n    adresses: [10.0.0.1]\n"),
            "f.yaml:3: unknown key 'adresses' in a service (expected one of: name, addresses, ports, policy, "
            "prefer, waypoint, keep_original, endpoints, affinity, affinity_timeout)");
  EXPECT_NE(error_of("services:\n  - {name: a, addresses: [1.1.1.1], ports: [80], policy: roundrobin}\n")
                .find("policy 'roundrobin'"),
            std::string::npos);
  EXPECT_NE(error_of("services:\n  - {name: a, addresses: [0.0.0.0], ports: [80]}\n").find("unspecified"),
            std::string::npos);
  EXPECT_NE(error_of("services:\n  - {name: a, addresses: [1.1.1.1], ports: [80], waypoint: 1.2.3.4}\n")
                .find("ADDRESS:PORT"),
            std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of(std::string(100, '[')).find("nested"), std::string::npos);
}

TEST(LbConfig, HostPortForms) {
  auto a = parse_host_port("[fd00::1]:15008");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port, 15008);
  EXPECT_EQ(format_host_port(*a), "[fd00::1]:15008");
  EXPECT_FALSE(parse_host_port("fd00::1:80"));
  EXPECT_FALSE(parse_host_port("1.2.3.4:0"));
  EXPECT_FALSE(parse_host_port("1.2.3.4:"));
  auto m = parse_addr("::ffff:10.0.0.1");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_v4());  // a mapped address is the IPv4 address
  EXPECT_EQ(format_addr(*m), "10.0.0.1");
}

TEST(LbConfig, EmptyValuesKeepTheirLines) {
  // An empty value is reported on the line of what follows it, as with yaml-cpp,
  // and never past the end of the file.
  EXPECT_EQ(error_of("services:\n  - name:\n    addresses: [10.0.0.1]\n"), "f.yaml:3: name must be a single value");
  EXPECT_EQ(error_of("services:\n  - name: a\n    addresses:"), "f.yaml:3: addresses must be a list");
  EXPECT_EQ(error_of("services:\n  - name: a\n    addresses: ~\n"), "f.yaml:3: addresses must be a list");
  EXPECT_EQ(error_of("services:\n"), "(ok)");
  EXPECT_EQ(error_of("services: ~\nworkloads:\nnetns: null\n"), "(ok)");
  EXPECT_EQ(error_of("services: 'null'\n"), "f.yaml:1: services must be a list");
}

TEST(LbConfig, YamlErrorsCarryTheLine) {
  std::string e = error_of("services:\n  - name: a\n    addresses: [10.0.0.1\n    ports: [80]\n  - name: b\n");
  EXPECT_EQ(e.rfind("f.yaml:4: ", 0), 0u) << e;  // where the list should have closed
  e = error_of("services:\n  - name: a\n---\nservices:\n");
  EXPECT_EQ(e, "f.yaml:3: a second YAML document ('---'); the file must hold one");
  e = error_of("services:\n  - {name: a, addresses: [10.0.0.1], ports: [80]}\nnode: *where\n");
  EXPECT_EQ(e, "f.yaml:3: alias *where names no anchor before it");
}

TEST(LbConfig, AliasesResolve) {
  auto r = parse_config("services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: &p [80, 443]\n"
                        "  - name: b\n    addresses: [10.0.0.2]\n    ports: *p\n",
                        "f.yaml");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->services.size(), 2u);
  EXPECT_EQ(r->services[1].ports.size(), 2u);
  EXPECT_EQ(r->services[1].ports[1].port, 443);
}

TEST(LbConfig, KeepOriginalDefaultsToTheTopLevelAndWaypointsAlwaysKeep) {
  const char* svcs = R"(services:
  - {name: a, addresses: [10.0.0.1], ports: [80]}
  - {name: b, addresses: [10.0.0.2], ports: [80], keep_original: true}
  - {name: c, addresses: [10.0.0.3], ports: [80], keep_original: false}
  - {name: d, addresses: [10.0.0.4], ports: [80], waypoint: 127.0.0.1:15008}
)";
  auto r = parse_config(svcs, "f.yaml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->keep_original);
  std::vector<bool> keeps;
  for (const Service& s : r->services) keeps.push_back(s.keeps_original(r->keep_original));
  EXPECT_EQ(keeps, (std::vector<bool>{true, true, false, true}));

  auto off = parse_config(std::string("keep_original: false\n") + svcs, "f.yaml");
  ASSERT_TRUE(off) << off.error().message;
  keeps.clear();
  for (const Service& s : off->services) keeps.push_back(s.keeps_original(off->keep_original));
  EXPECT_EQ(keeps, (std::vector<bool>{false, true, false, true}));  // d: its waypoint needs it

  EXPECT_EQ(error_of("keep_original: no\nservices: []\n"), "f.yaml:1: keep_original 'no' must be true or false");
  EXPECT_EQ(error_of("services:\n  - name: w\n    addresses: [10.0.0.1]\n    ports: [80]\n"
                     "    waypoint: 127.0.0.1:15008\n    keep_original: false\n"),
            "f.yaml:6: service w has a waypoint, which needs the original destination: keep_original cannot be "
            "false");
}

// Finding 3 of issue 11: a second block of a key would have dropped the first.
TEST(LbConfig, DuplicateKeysAreErrorsWithBothLines) {
  EXPECT_EQ(error_of("services:\n  - {name: a, addresses: [10.0.0.1], ports: [80]}\nservices:\n  - {name: b, "
                     "addresses: [10.0.0.2], ports: [80]}\n"),
            "f.yaml:3: key 'services' is given twice in one mapping (first on line 1); YAML allows each key once");
  EXPECT_NE(error_of("services:\n  - {name: a, addresses: [10.0.0.1], ports: [{port: 80, port: 81}]}\n")
                .find("f.yaml:2: key 'port' is given twice"),
            std::string::npos);
  EXPECT_NE(error_of("services:\n  - name: a\n    endpoints: []\n    addresses: [10.0.0.1]\n    ports: [80]\n"
                     "    endpoints: [{address: 127.0.0.2}]\n")
                .find("f.yaml:6: key 'endpoints' is given twice in one mapping (first on line 3)"),
            std::string::npos);
}

// Finding 9 of issue 11: addresses that take no TCP connection, or are the host's own.
TEST(LbConfig, RefusesAddressesThatCannotServe) {
  auto one = [](const std::string& addr, const std::string& ep) {
    return error_of(fmt::format("services:\n  - name: a\n    addresses: [{}]\n    ports: [80]\n"
                                "    endpoints: [{{address: {}}}]\n",
                                addr, ep));
  };
  EXPECT_EQ(one("10.96.0.1", "127.0.0.2"), "(ok)");  // a loopback endpoint is fine
  EXPECT_EQ(one("10.96.0.1", "224.0.0.1"),
            "f.yaml:5: endpoint address: 224.0.0.1 is a multicast address, which takes no TCP connection");
  EXPECT_NE(one("10.96.0.1", "255.255.255.255").find("f.yaml:5: endpoint address: the broadcast address"),
            std::string::npos);
  EXPECT_NE(one("'fd00::1'", "'ff02::1'").find("multicast"), std::string::npos);
  EXPECT_NE(one("127.0.0.1", "127.0.0.2").find("f.yaml:3: service address: 127.0.0.1 is a loopback address"),
            std::string::npos);
  EXPECT_NE(one("'::1'", "'fd00::2'").find("loopback"), std::string::npos);
  EXPECT_NE(one("239.1.1.1", "127.0.0.2").find("multicast"), std::string::npos);
  EXPECT_NE(error_of("services: []\nworkloads:\n  - {address: 127.0.0.9, waypoint: 127.0.0.1:15008}\n").find("loopback"),
            std::string::npos);
  EXPECT_NE(error_of("services:\n  - {name: a, addresses: [10.0.0.1], ports: [80], waypoint: '224.1.1.1:80'}\n")
                .find("f.yaml:2: waypoint: 224.1.1.1 is a multicast address"),
            std::string::npos);
}

// lb rewrites a connect once: a connect sent to another service's address hangs.
TEST(LbConfig, RefusesEndpointsAndWaypointsThatAreServiceAddresses) {
  const char* two = "services:\n  - {name: a, addresses: [10.96.0.1], ports: [80], endpoints: [{address: %s}]}\n"
                    "  - {name: b, addresses: [10.96.0.2], ports: [80], endpoints: [{address: 127.0.0.2}]}\n";
  auto with = [&](const char* ep) {
    char buf[512];
    std::snprintf(buf, sizeof buf, two, ep);
    return error_of(buf);
  };
  EXPECT_EQ(with("127.0.0.3"), "(ok)");
  std::string e = with("10.96.0.2");
  EXPECT_EQ(e.rfind("f.yaml:2: endpoint 10.96.0.2 of service a is an address of service b;", 0), 0u) << e;
  EXPECT_NE(e.find("list service b's endpoints here instead"), std::string::npos) << e;
  EXPECT_NE(with("10.96.0.1").find("is an address of service a"), std::string::npos);  // its own
  EXPECT_NE(error_of("services:\n  - {name: a, addresses: [10.96.0.1], ports: [80], waypoint: '10.96.0.1:80'}\n")
                .find("waypoint 10.96.0.1:80 is an address of service a"),
            std::string::npos);
  // A workload's address as an endpoint is how waypoints work: fine.
  EXPECT_EQ(error_of("services:\n  - {name: a, addresses: [10.96.0.1], ports: [80], endpoints: [{address: "
                     "10.244.0.5}]}\nworkloads:\n  - {address: 10.244.0.5, waypoint: 127.0.0.1:15008}\n"),
            "(ok)");
}

TEST(LbConfig, NetnsEntriesKeepTheirLines) {
  auto r = parse_config("services: []\nnetns:\n  - /run/netns/a\n  - /run/netns/b\n", "f.yaml");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->netns.size(), 2u);
  EXPECT_EQ(r->netns[1].path, "/run/netns/b");
  EXPECT_EQ(r->netns[1].line, 4);
  EXPECT_EQ(error_of("services: []\nnetns: [/run/netns/a, /run/netns/a]\n"), "f.yaml:2: netns /run/netns/a is listed twice");
}

// Finding 8 of issue 11: the duplicate-endpoint check was quadratic.
TEST(LbConfig, OneServiceWithManyEndpoints) {
  std::string text = "services:\n  - name: big\n    addresses: ['fd00::1']\n    ports: [80]\n    endpoints:\n";
  for (int i = 0; i < 100000; i++) text += fmt::format("      - {{address: 'fd01::{:x}:{:x}'}}\n", i / 65536 + 1, i % 65536);
  auto r = parse_config(text, "f.yaml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->services[0].endpoints.size(), 100000u);
  text += "      - {address: 'fd01::1:10'}\n";
  EXPECT_EQ(error_of(text), "f.yaml:100006: endpoint fd01::1:10 is listed twice in service big");
}

// Weights (config.h): whole numbers 0-100, default 1; the slots they fill count
// against lb_endpoint's capacity after dividing by the service's gcd.
TEST(LbConfig, WeightsAreBoundedAndCountAsSlots) {
  auto cfg = parse_config("services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [80]\n"
                          "    endpoints: [{address: 127.0.0.2, weight: 30}, {address: 127.0.0.3, weight: 0}, "
                          "{address: 127.0.0.4}]\n",
                          "f.yaml");
  ASSERT_TRUE(cfg) << cfg.error().message;
  const Service& s = cfg->services[0];
  EXPECT_EQ(s.endpoints[0].weight, 30u);
  EXPECT_EQ(s.endpoints[1].weight, 0u);
  EXPECT_EQ(s.endpoints[2].weight, 1u);
  EXPECT_EQ(weight_unit(s), 1u);
  EXPECT_EQ(endpoint_slots(s.endpoints[0], weight_unit(s)), 30u);
  EXPECT_EQ(error_of("services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [80]\n"
                     "    endpoints: [{address: 127.0.0.2, weight: 101}]\n"),
            "f.yaml:5: weight '101' must be a whole number from 0 to 100");
  EXPECT_NE(error_of("services:\n  - {name: a, addresses: [10.0.0.1], ports: [80], endpoints: [{address: 127.0.0.2, "
                     "weight: -1}]}\n")
                .find("weight '-1'"),
            std::string::npos);
  // 6,000 endpoints of weights 99 and 100 (gcd 1) fill 597,000 slots: more than lb_endpoint holds.
  std::string many = "services:\n  - name: a\n    addresses: [10.0.0.1]\n    ports: [80]\n    endpoints:\n";
  for (int i = 0; i < 6000; i++)
    many += fmt::format("      - {{address: 127.1.{}.{}, weight: {}}}\n", i / 250, i % 250 + 1, 99 + i % 2);
  EXPECT_NE(error_of(many).find("597000 endpoint slots"), std::string::npos) << error_of(many);
  // The same weights all at 100 are 6,000 slots (gcd 100): fine.
  std::string even = many;
  for (size_t at = 0; (at = even.find("weight: 99}", at)) != std::string::npos;) even.replace(at, 11, "weight: 100}");
  EXPECT_EQ(error_of(even), "(ok)");
}

TEST(LbConfig, AffinityIsClientIpWithATimeout) {
  auto cfg = parse_config("services:\n  - {name: a, addresses: [10.0.0.1], ports: [80], affinity: client_ip}\n"
                          "  - {name: b, addresses: [10.0.0.2], ports: [80], affinity: client_ip, affinity_timeout: 60}\n"
                          "  - {name: c, addresses: [10.0.0.3], ports: [80]}\n",
                          "f.yaml");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_TRUE(cfg->services[0].affinity);
  EXPECT_EQ(cfg->services[0].affinity_timeout, 10800u);
  EXPECT_EQ(cfg->services[1].affinity_timeout, 60u);
  EXPECT_FALSE(cfg->services[2].affinity);
  EXPECT_EQ(error_of("services:\n  - {name: a, addresses: [10.0.0.1], ports: [80], affinity: cookie}\n"),
            "f.yaml:2: affinity 'cookie' must be client_ip or none");
  EXPECT_EQ(error_of("services:\n  - {name: a, addresses: [10.0.0.1], ports: [80], affinity_timeout: 5}\n"),
            "f.yaml:2: service a has affinity_timeout but no affinity: client_ip");
  EXPECT_NE(error_of("services:\n  - {name: a, addresses: [10.0.0.1], ports: [80], affinity: client_ip, "
                     "affinity_timeout: 70000}\n")
                .find("from 1 to 65535"),
            std::string::npos);
}
