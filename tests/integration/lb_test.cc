// cgscope lb against the real kernel: balancing, policies, waypoints, families,
// re-applies, upgrades and reset. The fixture is in lb_fixture.h; what apply
// does under concurrency, kills and bad input is in lb_concurrency_test.cc,
// lb_transaction_test.cc and lb_input_test.cc.
#include "lb_fixture.h"

using namespace cgscope;
using namespace cgscope::lbtest;

namespace {

const char* kRandom = R"(services:
  - name: web
    addresses: [10.96.0.10, "fd00::10"]
    ports: [{port: 80, target_port: 8080}]
    policy: random
    endpoints:
      - {address: 127.0.0.2}
      - {address: 127.0.0.3}
      - {address: 127.0.0.4}
)";

std::string failover(const std::string& policy, const std::vector<int>& which) {
  std::string s = fmt::format(R"(node: {{region: r1, zone: z1}}
services:
  - name: web
    addresses: [10.96.0.10]
    ports: [{{port: 80, target_port: 8080}}]
    policy: {}
    prefer: [region, zone]
    endpoints:
)",
                              policy);
  const char* loc[] = {"", "", "{region: r1, zone: z1}", "{region: r1, zone: z2}", "{region: r2, zone: z9}"};
  for (int b : which) s += fmt::format("      - {{address: 127.0.0.{}, locality: {}}}\n", b, loc[b]);
  if (which.empty()) s += "      []\n";
  return s;
}

}  // namespace

TEST_F(LbTest, RandomSpreadsOverAllBackendsAndGetpeernameShowsTheService) {
  three_backends();
  ASSERT_EQ(apply(kRandom), 0) << err_;
  auto res = connects("10.96.0.10", 80, 300);
  auto m = by_name(res);
  EXPECT_EQ(m.size(), 3u) << ::testing::PrintToString(m);
  for (const char* b : {"b2", "b3", "b4"}) EXPECT_GE(m[b], 50) << b;
  for (const Outcome& o : res) EXPECT_EQ(o.peer, "10.96.0.10:80");
  // The backends saw real connections from the client.
  EXPECT_FALSE(servers_[0]->peers().empty());
  // Counters, read back from the kernel.
  auto j = nlohmann::json::parse(status_json());
  ASSERT_EQ(j["services"].size(), 1u);
  EXPECT_EQ(j["services"][0]["balanced"].get<uint64_t>(), 300u);
  EXPECT_EQ(j["services"][0]["tiers"][0].size(), 3u);
  // A port the service does not serve is left alone (no route in the netns).
  auto miss = connects("10.96.0.10", 81, 1);
  EXPECT_EQ(miss[0].err, ENETUNREACH);
}

// keep_original: false skips the per-socket storage: still balanced, but
// getpeername() reports the backend, as the file asked.
TEST_F(LbTest, WithoutKeepOriginalGetpeernameShowsTheBackend) {
  three_backends();
  ASSERT_EQ(apply(std::string("keep_original: false\n") + kRandom), 0) << err_;
  auto res = connects("10.96.0.10", 80, 60);
  EXPECT_EQ(by_name(res).size(), 3u) << ::testing::PrintToString(by_name(res));
  for (const Outcome& o : res) {
    ASSERT_EQ(o.err, 0);
    EXPECT_EQ(o.peer, "127.0.0." + o.name.substr(1) + ":8080");  // b3 answered from 127.0.0.3
  }
  auto j = nlohmann::json::parse(status_json());
  EXPECT_FALSE(j["services"][0]["keep_original"].get<bool>());
  EXPECT_EQ(j["services"][0]["balanced"].get<uint64_t>(), 60u);
  // A v6 socket dialling the dual-stack service's v6 address: the mapped backend.
  for (const Outcome& o : connects("fd00::10", 80, 10)) {
    ASSERT_EQ(o.err, 0);
    EXPECT_EQ(o.peer, "[::ffff:127.0.0." + o.name.substr(1) + "]:8080");
  }
  // Turned back on by a re-apply: the next sockets report the service again.
  ASSERT_EQ(apply(kRandom), 0) << err_;
  for (const Outcome& o : connects("10.96.0.10", 80, 10)) EXPECT_EQ(o.peer, "10.96.0.10:80");
}

// A connect that lands on a workload's waypoint keeps the original destination
// even in a service that keeps none: the waypoint needs it.
TEST_F(LbTest, WaypointOfAnEndpointKeepsTheOriginalWithoutKeepOriginal) {
  serve("waypoint", "127.0.0.1", 15008);
  ASSERT_EQ(apply(R"(keep_original: false
services:
  - {name: web, addresses: [10.96.0.30], ports: [{port: 80, target_port: 8080}], endpoints: [{address: 10.244.1.5}]}
workloads:
  - {address: 10.244.1.5, waypoint: 127.0.0.1:15008}
)"),
            0)
      << err_;
  for (const Outcome& o : connects("10.96.0.30", 80, 5)) {
    EXPECT_EQ(o.name, "waypoint");
    EXPECT_EQ(o.peer, "10.96.0.30:80");
  }
}

// One socket, connected through the service, disconnected (AF_UNSPEC), then
// connected straight to the backend: the second peer is not translated.
TEST_F(LbTest, ReconnectedSocketReportsItsNewPeer) {
  serve("b2", "127.0.0.2", 8080);
  ASSERT_EQ(apply("services:\n  - {name: one, addresses: [10.96.0.40], ports: [{port: 80, target_port: 8080}], "
                  "endpoints: [{address: 127.0.0.2}]}\n"),
            0)
      << err_;
  std::string peers = in_cgroup([] {
    std::string out;
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto peer = [&] {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      return getpeername(s, reinterpret_cast<sockaddr*>(&ss), &len) == 0 ? to_string(ss) : std::string("-");
    };
    Target svc = target("10.96.0.40", 80), direct = target("127.0.0.2", 8080);
    if (::connect(s, reinterpret_cast<const sockaddr*>(&svc.ss), svc.len) != 0) return std::string("connect 1 failed");
    out += peer() + " ";
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    if (::connect(s, &unspec, sizeof unspec) != 0) return out + "disconnect failed";
    if (::connect(s, reinterpret_cast<const sockaddr*>(&direct.ss), direct.len) != 0)
      return out + "connect 2 failed: " + std::strerror(errno);
    out += peer();
    ::close(s);
    return out;
  });
  EXPECT_EQ(peers, "10.96.0.40:80 127.0.0.2:8080");
}

TEST_F(LbTest, StrictAndFailoverPickTheRightTierAndFailOver) {
  three_backends();
  ASSERT_EQ(apply(failover("failover", {2, 3, 4})), 0) << err_;
  EXPECT_EQ(by_name(connects("10.96.0.10", 80, 40)), (std::map<std::string, int>{{"b2", 40}}));
  ASSERT_EQ(apply(failover("failover", {3, 4})), 0) << err_;
  EXPECT_EQ(by_name(connects("10.96.0.10", 80, 40)), (std::map<std::string, int>{{"b3", 40}}));
  ASSERT_EQ(apply(failover("failover", {4})), 0) << err_;
  EXPECT_EQ(by_name(connects("10.96.0.10", 80, 40)), (std::map<std::string, int>{{"b4", 40}}));
  ASSERT_EQ(apply(failover("strict", {2, 3, 4})), 0) << err_;
  EXPECT_EQ(by_name(connects("10.96.0.10", 80, 40)), (std::map<std::string, int>{{"b2", 40}}));
  // strict never leaves the best tier: with it empty, the connect is refused.
  ASSERT_EQ(apply(failover("strict", {3, 4})), 0) << err_;
  auto r = connects("10.96.0.10", 80, 10);
  for (const Outcome& o : r) EXPECT_EQ(o.err, ECONNREFUSED);
}

TEST_F(LbTest, ServiceWithoutEndpointsIsRefusedFast) {
  ASSERT_EQ(apply("services:\n  - {name: empty, addresses: [10.96.0.20], ports: [80]}\n"), 0) << err_;
  auto r = connects("10.96.0.20", 80, 20);
  for (const Outcome& o : r) {
    EXPECT_EQ(o.err, ECONNREFUSED);
    EXPECT_LT(o.us, 50000.0);  // not a SYN timeout
  }
  auto j = nlohmann::json::parse(status_json());
  EXPECT_EQ(j["services"][0]["refused"].get<uint64_t>(), 20u);
}

TEST_F(LbTest, WaypointReceivesTheConnectionAndLearnsTheOriginalDestination) {
  three_backends();
  Server& wp = serve("waypoint", "127.0.0.1", 15008);
  ASSERT_EQ(apply(R"(services:
  - name: meshed
    addresses: [10.96.0.30]
    ports: [{port: 80, target_port: 8080}]
    waypoint: 127.0.0.1:15008
    endpoints: [{address: 127.0.0.2}]
workloads:
  - {address: 10.244.1.5, waypoint: 127.0.0.1:15008}
)"),
            0)
      << err_;
  auto r = connects("10.96.0.30", 80, 5);
  for (const Outcome& o : r) {
    EXPECT_EQ(o.name, "waypoint");
    EXPECT_EQ(o.peer, "10.96.0.30:80");
  }
  auto w = connects("10.244.1.5", 9000, 5);
  for (const Outcome& o : w) {
    EXPECT_EQ(o.name, "waypoint");
    EXPECT_EQ(o.peer, "10.244.1.5:9000");
  }
  // The waypoint looks each client up by its address:port in the pinned map.
  UniqueFd m(bpf_obj_get((pin_dir_ + "/lb_waypoint_orig").c_str()));
  ASSERT_TRUE(m);
  auto peers = wp.peers();
  ASSERT_EQ(peers.size(), 10u);
  int to_service = 0, to_workload = 0;
  for (const std::string& p : peers) {
    auto hp = lb::parse_host_port(p);
    ASSERT_TRUE(hp) << p;
    cgs_conn_key k{};
    k.addr = lb::to_abi(hp->addr);
    k.port = hp->port;
    cgs_conn_orig v{};
    ASSERT_EQ(bpf_map_lookup_elem(m.get(), &k, &v), 0) << "no original destination for " << p;
    std::string orig = lb::format_host_port({lb::from_abi(v.addr), static_cast<uint16_t>(v.port)});
    to_service += orig == "10.96.0.30:80";
    to_workload += orig == "10.244.1.5:9000";
  }
  EXPECT_EQ(to_service, 5);
  EXPECT_EQ(to_workload, 5);
}

TEST_F(LbTest, Ipv6AndIpv4MappedDestinations) {
  three_backends();
  serve("v6-2", "fd00:1::2", 8080);
  serve("v6-3", "fd00:1::3", 8080);
  ASSERT_EQ(apply(std::string(kRandom) + R"(  - name: six
    addresses: ["fd00::20"]
    ports: [{port: 443, target_port: 8080}]
    endpoints: [{address: "fd00:1::2"}, {address: "fd00:1::3"}]
)"),
            0)
      << err_;
  // A Java-style v6 socket dialling the v4 service through a mapped address.
  auto mapped = connects("::ffff:10.96.0.10", 80, 60);
  auto m = by_name(mapped);
  EXPECT_EQ(m.size(), 3u) << ::testing::PrintToString(m);
  for (const Outcome& o : mapped) EXPECT_EQ(o.peer, "[::ffff:10.96.0.10]:80");
  // The v6 address of the dual-stack service, with v4 backends reached as mapped.
  auto dual = connects("fd00::10", 80, 30);
  for (const Outcome& o : dual) {
    EXPECT_EQ(o.err, 0);
    EXPECT_EQ(o.peer, "[fd00::10]:80");
  }
  // A v6-only service with v6 backends.
  auto six = by_name(connects("fd00::20", 443, 60));
  EXPECT_EQ(six.size(), 2u) << ::testing::PrintToString(six);
  EXPECT_GT(six["v6-2"], 0);
  EXPECT_GT(six["v6-3"], 0);
}

TEST_F(LbTest, UdpAndExemptSocketsAreUntouched) {
  three_backends();
  ASSERT_EQ(apply(kRandom), 0) << err_;
  // UDP to the service address is not balanced: with no route in the netns it fails.
  auto udp = connects("10.96.0.10", 80, 1, SOCK_DGRAM);
  EXPECT_EQ(udp[0].err, ENETUNREACH);
  // A socket cgscope exempted keeps its destination (this process is not in the cgroup,
  // so do it from the client side by hand).
  std::string err = in_cgroup([&] {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (!lb::exempt_socket(pin_dir_, s)) return std::string("exempt_socket failed");
    Target t = target("10.96.0.10", 80);
    int rc = ::connect(s, reinterpret_cast<const sockaddr*>(&t.ss), t.len);
    return std::to_string(rc == 0 ? 0 : errno);
  });
  EXPECT_EQ(err, std::to_string(ENETUNREACH));
}

TEST_F(LbTest, ReapplyWhileConnectingLosesNoConnect) {
  three_backends();
  ASSERT_EQ(apply(kRandom), 0) << err_;
  const std::vector<std::vector<int>> sets = {{2, 3}, {3, 4}, {2, 4}, {4}, {2, 3, 4}, {2}};
  // Connects in batches until the applies are done, and at least 4000 of them:
  // a bound on the count, not on the time, so a slow machine tests as much.
  constexpr int kApplies = 12;
  std::atomic<bool> applied{false};
  std::vector<Outcome> res;
  std::jthread client([&] {  // joined however the test ends
    while (!applied || res.size() < 4000) {
      auto batch = connects("10.96.0.10", 80, 250);
      res.insert(res.end(), batch.begin(), batch.end());
      if (batch.empty()) break;  // the child failed: the assertions below say so
    }
  });
  Cleanup stop_client([&] { applied = true; });  // an ASSERT below must not leave it looping
  for (int i = 0; i < kApplies; i++) {
    std::string cfg = "services:\n  - name: web\n    addresses: [10.96.0.10]\n    ports: [{port: 80, "
                      "target_port: 8080}]\n    endpoints:\n";
    for (int b : sets[i % sets.size()]) cfg += fmt::format("      - {{address: 127.0.0.{}}}\n", b);
    ASSERT_EQ(apply(cfg), 0) << err_;
  }
  applied = true;
  client.join();
  ASSERT_GE(res.size(), 4000u);
  int failed = 0;
  for (const Outcome& o : res) failed += o.err != 0 || o.name == "-";
  EXPECT_EQ(failed, 0) << ::testing::PrintToString(by_name(res));
  EXPECT_EQ(by_name(res).size(), 3u);
}

TEST_F(LbTest, BadFileChangesNothing) {
  three_backends();
  ASSERT_EQ(apply(kRandom), 0) << err_;
  std::string before = state_json();
  std::string bad = std::string(kRandom) + "      - {address: 127.0.0.999}\n";
  EXPECT_NE(apply(bad), 0);
  EXPECT_NE(err_.find(files_.back().path + ":10: endpoint address: '127.0.0.999'"), std::string::npos) << err_;
  EXPECT_NE(apply("services: [\n"), 0);
  EXPECT_NE(err_.find(files_.back().path + ":"), std::string::npos) << err_;
  std::string dup = std::string(kRandom) + "  - {name: other, addresses: [10.96.0.10], ports: [80]}\n";
  EXPECT_NE(apply(dup), 0);
  EXPECT_NE(err_.find("already used by service web"), std::string::npos) << err_;
  EXPECT_EQ(state_json(), before);
  EXPECT_EQ(by_name(connects("10.96.0.10", 80, 30)).size(), 3u);
}

// An upgrade: the pinned link runs some other program (here a stand-in that lets
// every connect through unchanged, as an older cgscope that did not know this
// service would); apply swaps this binary's program into the same link, so the
// hook is never off, and balancing resumes.
TEST_F(LbTest, ApplySwapsADifferentProgramIntoTheSameLink) {
  three_backends();
  ASSERT_EQ(apply(kRandom), 0) << err_;
  std::string link_path = pin_dir_ + "/link_connect4";
  UniqueFd link(bpf_obj_get(link_path.c_str()));
  ASSERT_TRUE(link);
  auto link_info = [&] {
    bpf_link_info info{};
    uint32_t len = sizeof info;
    EXPECT_EQ(bpf_obj_get_info_by_fd(link.get(), &info, &len), 0);
    return info;
  };
  const bpf_link_info before = link_info();
  auto tag_of = [](uint32_t prog_id) {
    UniqueFd fd(bpf_prog_get_fd_by_id(prog_id));
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    EXPECT_TRUE(fd && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0);
    return std::string(reinterpret_cast<const char*>(info.tag), sizeof info.tag);
  };
  // Taken now: once the link lets go of it, the program is freed.
  const std::string connect4_tag = tag_of(before.prog_id);

  bpf_insn allow[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 1},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_CGROUP_INET4_CONNECT);
  UniqueFd old(bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "old_connect4", "GPL", allow, 2, &opts));
  ASSERT_TRUE(old) << "loading the stand-in: " << std::strerror(errno);
  ASSERT_EQ(bpf_link_update(link.get(), old.get(), nullptr), 0) << std::strerror(errno);
  EXPECT_EQ(connects("10.96.0.10", 80, 1)[0].err, ENETUNREACH);  // not balanced: no route in the netns

  ASSERT_EQ(apply(kRandom), 0) << err_;
  EXPECT_NE(out_.find("replaced the program of link_connect4"), std::string::npos) << out_;
  EXPECT_EQ(out_.find("link_connect6"), std::string::npos) << out_;  // unchanged programs stay
  const bpf_link_info after = link_info();
  EXPECT_EQ(after.id, before.id);  // the same link: the cgroup never ran without the hook
  EXPECT_EQ(tag_of(after.prog_id), connect4_tag);  // this binary's connect4 again
  for (const Outcome& o : connects("10.96.0.10", 80, 20)) EXPECT_EQ(o.err, 0);
}

// In a directory that is not lb's, reset touches only lb's own names.
TEST_F(LbTest, ResetLeavesOtherPinsOfASharedDirectory) {
  ASSERT_EQ(::mkdir(pin_dir_.c_str(), 0700), 0);
  std::string other = pin_dir_ + "/lb_someone_elses";
  {
    UniqueFd m(bpf_map_create(BPF_MAP_TYPE_ARRAY, "other", 4, 4, 1, nullptr));
    ASSERT_TRUE(m);
    ASSERT_EQ(bpf_obj_pin(m.get(), other.c_str()), 0);
  }
  std::ostringstream o, e;
  EXPECT_EQ(lb::run_reset(pin_dir_, o, e), 1);  // the dir cannot go: something else is pinned there
  EXPECT_EQ(::access(other.c_str(), F_OK), 0);
  ::unlink(other.c_str());
}

TEST_F(LbTest, ResetDetachesAndRemovesEverything) {
  three_backends();
  ASSERT_EQ(apply(kRandom), 0) << err_;
  EXPECT_EQ(connects("10.96.0.10", 80, 1)[0].err, 0);
  // A map pinned by some other version of cgscope goes too.
  {
    UniqueFd m(bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_newer", 4, 4, 1, nullptr));
    ASSERT_TRUE(m);
    ASSERT_EQ(bpf_obj_pin(m.get(), (pin_dir_ + "/lb_newer").c_str()), 0);
  }
  std::ostringstream o, e;
  ASSERT_EQ(lb::run_reset(pin_dir_, o, e), 0) << e.str();
  size_t pins = std::size(lb::kMapNames) + std::size(lb::kLinkNames) + 1;
  EXPECT_NE(o.str().find(fmt::format("removed {} pins", pins)), std::string::npos) << o.str();
  EXPECT_NE(::access(pin_dir_.c_str(), F_OK), 0);
  EXPECT_EQ(connects("10.96.0.10", 80, 1)[0].err, ENETUNREACH);
}
