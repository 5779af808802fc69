// cgscope proxy route end to end: the real binary, its sock_create hook on a
// cgroup of the test's, its rule and route in the kernel, and real TCP and UDP
// traffic. Two test hosts, network namespaces of the test's own, each joined to
// the host by its own veth (gateway A, gateway B), hold the same test address
// (IPv4 and IPv6) with a server that answers with its namespace's name. The
// host's main table routes the test address to A; the cgroup's own table sends
// it to B. Nothing leaves the machine: the addresses are benchmark (198.19/16)
// and documentation (2001:db8::/32) ones, routed only into these namespaces.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cgscope/abi/proxy_route.h"
#include "core/cgroup2.h"
#include "owned.h"

namespace cgscope::testing {
namespace {

constexpr uint16_t kPort = 7007;

socklen_t make_addr(const std::string& ip, uint16_t port, sockaddr_storage& ss) {
  ss = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return sizeof *v4;
  }
  inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr);
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons(port);
  return sizeof *v6;
}

// In netns `ns`: answers every TCP connection and UDP datagram to ips:kPort with
// `name`; says "ready" on stdout once it listens. Runs in a forked child.
int serve_name(const std::string& ns, const std::vector<std::string>& ips, const std::string& name) {
  UniqueFd nsfd(::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
  if (!nsfd || ::setns(nsfd.get(), CLONE_NEWNET) != 0) return 1;
  std::vector<UniqueFd> socks;
  std::vector<pollfd> fds;
  for (const std::string& ip : ips)
    for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
      sockaddr_storage a;
      socklen_t len = make_addr(ip, kPort, a);
      UniqueFd s(::socket(a.ss_family, type | SOCK_CLOEXEC, 0));
      if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), len) != 0) return 2;
      if (type == SOCK_STREAM && ::listen(s.get(), 16) != 0) return 3;
      fds.push_back({s.get(), POLLIN, 0});
      socks.push_back(std::move(s));
    }
  (void)!::write(1, "ready\n", 6);
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    for (size_t i = 0; i < fds.size(); i++) {
      if (!(fds[i].revents & POLLIN)) continue;
      if (i % 2 == 0) {  // TCP
        UniqueFd c(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (c) (void)!::write(c.get(), name.data(), name.size());
        continue;
      }
      char buf[64];
      sockaddr_storage from;
      socklen_t flen = sizeof from;
      if (::recvfrom(fds[i].fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen) >= 0)
        (void)::sendto(fds[i].fd, name.data(), name.size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
    }
  }
}

class ProxyRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    static int seq = 0;
    int n = 1 + (getpid() * 7 + seq) % 250;
    table_ = 20000 + uint32_t(getpid() * 7 + seq) % 20000;
    mark_ = CGS_ROUTE_MARK_BASE | table_;
    std::string v6 = fmt::format("2001:db8:c5{:02x}", n);
    a_ = {fmt::format("198.19.{}.1", n), fmt::format("198.19.{}.2", n), v6 + ":1::1", v6 + ":1::2"};
    b_ = {fmt::format("198.19.{}.5", n), fmt::format("198.19.{}.6", n), v6 + ":2::1", v6 + ":2::2"};
    test4_ = fmt::format("198.19.{}.10", n);
    test6_ = v6 + ":9::10";
    std::string tag = fmt::format("{}x{}", getpid() % 100000, seq++ % 100);
    make_host(ns_a_, a_, "cgra" + tag, veth_a_, owner_a_);
    make_host(ns_b_, b_, "cgrb" + tag, veth_b_, owner_b_);
    if (HasFatalFailure()) return;
    for (const std::string& cmd : {fmt::format("ip route add {}/32 via {} dev {}", test4_, a_.peer4, veth_a_),
                                   fmt::format("ip -6 route add {}/128 via {} dev {}", test6_, a_.peer6, veth_a_),
                                   // The replies from B come in on B's veth while the main table routes
                                   // their source (the test address) to A, and the reverse-path check of
                                   // an incoming packet does not see the mark its socket put on the way
                                   // out: a strict rp_filter would drop them. Loose (2) passes whatever
                                   // is routable at all; the kernel applies the larger of conf.all and
                                   // conf.<dev>, so 2 holds whatever conf.all is.
                                   fmt::format("sysctl -qw net.ipv4.conf.{}.rp_filter=2", veth_b_)})
      ASSERT_EQ(sh(cmd).code, 0) << cmd;
    auto got = sh("ip route get " + test4_);
    ASSERT_NE(got.output.find("dev " + veth_a_), std::string::npos) << "the test address is A's: " << got.output;
    serve(server_a_, ns_a_, "A");
    serve(server_b_, ns_b_, "B");
    auto m = cgroup2_mount();
    ASSERT_TRUE(m) << m.error().message;
    auto cg = ScopedCgroup::create(*m, unique_name("rt"));
    ASSERT_TRUE(cg) << cg.error().message;
    cg_ = std::make_unique<ScopedCgroup>(std::move(*cg));
    pin_dir_ = fmt::format("/sys/fs/bpf/cgscope/route-{}", cg_->id());
    ASSERT_EQ(table_routes(table_) + table_routes(table_, "-6"), "")
        << "table " << table_ << " is in use on this machine";
  }

  void TearDown() override {
    if (route_.running()) {
      route_.signal(SIGTERM);
      (void)route_.wait_for(20s);
    }
    if (cg_) (void)run({CGSCOPE_BIN, "proxy", "route", "--cgroup", cg_->path(), "--remove"}, 20s);
    // A safety net that cannot touch anything else: this test's own table and mark.
    for (const char* ip : {"ip -4", "ip -6"})
      (void)sh(fmt::format("{0} rule del fwmark {1:#x} lookup {2}; {0} route flush table {2}", ip, mark_, table_));
  }

  struct Link {
    std::string host4, peer4, host6, peer6;  // the host's end and the namespace's end
  };

  static RunResult sh(const std::string& cmd) { return run({"sh", "-c", cmd}, 20s); }

  // The routes of table `t` in `family` ("-4", "-6"): "" when it has none (or was never made).
  static std::string table_routes(uint32_t t, const char* family = "-4") {
    return sh(fmt::format("ip {} route show table {} 2>/dev/null", family, t)).output;
  }

  // A namespace joined by veth `name`, holding the test addresses.
  void make_host(ScopedNetns& ns, const Link& l, const std::string& name, std::string& veth, Cleanup& owner) {
    ASSERT_TRUE(ns.create(unique_name("rt"))) << ns.error();
    veth = name;
    owner = Cleanup([name] { (void)run({"ip", "link", "del", name}, 10s); });
    const std::string& n = ns.name();
    for (const std::string& cmd :
         {fmt::format("ip link add {0} type veth peer name {0}n netns {1}", name, n),
          fmt::format("ip addr add {}/30 dev {}", l.host4, name),
          fmt::format("ip addr add {}/64 dev {} nodad", l.host6, name), fmt::format("ip link set {} up", name),
          fmt::format("ip -n {} link set lo up", n), fmt::format("ip -n {} addr add {}/30 dev {}n", n, l.peer4, name),
          fmt::format("ip -n {} addr add {}/64 dev {}n nodad", n, l.peer6, name),
          fmt::format("ip -n {} addr add {}/32 dev {}n", n, test4_, name),
          fmt::format("ip -n {} addr add {}/128 dev {}n nodad", n, test6_, name),
          fmt::format("ip -n {} link set {}n up", n, name)}) {
      auto r = sh(cmd);
      ASSERT_EQ(r.code, 0) << cmd << ": " << r.output;
    }
  }

  void serve(Child& c, const ScopedNetns& ns, const std::string& name) {
    std::string netns = ns.name();
    std::vector<std::string> ips{test4_, test6_};
    ASSERT_TRUE(
        c.start_fn([=] { return serve_name(netns, ips, name); }, {.out = Stream::kPipe, .name = "server " + name}))
        << c.error();
    std::string out;
    ASSERT_EQ(read_until(c.pipe_fd(), out, Clock::now() + 10s, [](const std::string& s) { return s == "ready\n"; }),
              ReadEnd::kDone)
        << "server " << name << " did not listen";
  }

  // What the server at ip answers a socket of `type` made in the cgroup (or
  // outside it): its namespace's name, or "error: ...".
  std::string ask(int type, const std::string& ip, bool in_cgroup = true) {
    TempPath out("answer");
    Child c;
    bool started = c.start_fn(
        [&] {
          sockaddr_storage a;
          socklen_t len = make_addr(ip, kPort, a);
          UniqueFd s(::socket(a.ss_family, type | SOCK_CLOEXEC, 0));
          timeval tv{3, 0};
          setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
          char buf[16];
          ssize_t n = -1;
          if (type == SOCK_STREAM && ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), len) == 0)
            n = ::read(s.get(), buf, sizeof buf);
          if (type == SOCK_DGRAM && ::sendto(s.get(), "?", 1, 0, reinterpret_cast<sockaddr*>(&a), len) == 1)
            n = ::recv(s.get(), buf, sizeof buf, 0);
          std::ofstream(out.path) << (n > 0 ? std::string(buf, size_t(n)) : "error: " + std::string(strerror(errno)));
          return 0;
        },
        {.cgroup = in_cgroup ? cg_->path() : "", .name = "client"});
    if (!started) return "error: " + c.error();
    (void)c.wait_for(20s);
    std::ifstream in(out.path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::vector<std::string> route_args(std::vector<std::string> extra = {}) {
    std::vector<std::string> a{CGSCOPE_BIN,           "proxy", "route", "--cgroup", cg_->path(), "--table",
                               std::to_string(table_)};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  // Starts `argv` (a route run) and waits for its start line; the log so far.
  std::string start(std::vector<std::string> argv) {
    EXPECT_TRUE(route_.start(std::move(argv), {.err = Stream::kPipe, .death_signal = SIGTERM, .name = "proxy route"}))
        << route_.error();
    std::string log;
    EXPECT_EQ(read_until(route_.pipe_fd(), log, Clock::now() + 30s,
                         [](const std::string& s) { return s.find("routing new sockets") != std::string::npos; }),
              ReadEnd::kDone)
        << log;
    return log;
  }
  std::string start_route(std::vector<std::string> extra) { return start(route_args(std::move(extra))); }

  std::string stop_route() {
    route_.signal(SIGTERM);
    EXPECT_TRUE(route_.wait_for(20s));
    std::string log;
    read_until(route_.pipe_fd(), log, Clock::now() + 5s);
    return log;
  }

  // The state a run changes: both families' rules, the table, the pins.
  std::string routing_state() {
    return sh(fmt::format("ip rule; ip -6 rule; ip route show table {0} 2>/dev/null; "
                          "ip -6 route show table {0} 2>/dev/null; ls {1} 2>/dev/null",
                          table_, pin_dir_))
        .output;
  }
  bool rule_present() {
    return sh("ip rule; ip -6 rule").output.find(fmt::format("fwmark {:#x} lookup {}", mark_, table_)) !=
           std::string::npos;
  }
  bool pins_present() { return std::filesystem::exists(pin_dir_); }

  // The gateway in B's namespace, for IPv4 or IPv6.
  std::vector<std::string> via_b(bool v6 = false) { return {"--via", v6 ? b_.peer6 : b_.peer4, "--dev", veth_b_}; }

  ScopedNetns ns_a_, ns_b_;
  std::string veth_a_, veth_b_;
  Cleanup owner_a_, owner_b_;  // deleting the host end deletes both ends, and their routes
  Link a_, b_;
  std::string test4_, test6_, pin_dir_;
  uint32_t table_ = 0, mark_ = 0;
  Child server_a_, server_b_;
  std::unique_ptr<ScopedCgroup> cg_;
  Child route_;
};

TEST_F(ProxyRouteTest, TheCgroupsTcpAndUdpTakeItsTableAndStoppingTakesItAway) {
  ASSERT_EQ(ask(SOCK_STREAM, test4_), "A") << "before the run the cgroup's traffic goes where the main table says";
  std::string log = start_route(via_b());
  EXPECT_NE(log.find("sockets that exist already keep their route"), std::string::npos) << log;
  EXPECT_TRUE(rule_present()) << routing_state();
  EXPECT_NE(table_routes(table_).find(fmt::format("default via {} dev {}", b_.peer4, veth_b_)), std::string::npos)
      << routing_state();
  EXPECT_TRUE(std::filesystem::exists(pin_dir_ + "/link_sock_create")) << routing_state();

  EXPECT_EQ(ask(SOCK_STREAM, test4_), "B") << "TCP of the cgroup";
  EXPECT_EQ(ask(SOCK_DGRAM, test4_), "B") << "UDP of the cgroup";
  EXPECT_EQ(ask(SOCK_STREAM, test4_, false), "A") << "TCP of a process outside the cgroup";
  EXPECT_EQ(ask(SOCK_DGRAM, test4_, false), "A") << "UDP of a process outside the cgroup";

  log += stop_route();
  EXPECT_NE(log.find("2 sockets marked; removed the hook, the rule fwmark"), std::string::npos) << log;
  EXPECT_FALSE(rule_present()) << routing_state();
  EXPECT_EQ(table_routes(table_), "");
  EXPECT_FALSE(pins_present()) << routing_state();
  EXPECT_EQ(ask(SOCK_STREAM, test4_), "A") << "after the run the cgroup's traffic goes to A again";
}

TEST_F(ProxyRouteTest, AnIpv6GatewayRoutesTheCgroupsIpv6Traffic) {
  ASSERT_EQ(ask(SOCK_STREAM, test6_), "A");
  start_route(via_b(true));
  EXPECT_EQ(ask(SOCK_STREAM, test6_), "B");
  EXPECT_EQ(ask(SOCK_DGRAM, test6_), "B");
  EXPECT_EQ(ask(SOCK_STREAM, test6_, false), "A");
  // The cgroup's IPv4 has no gateway: it fails, it does not go around the table.
  EXPECT_EQ(ask(SOCK_STREAM, test4_), "error: No route to host") << routing_state();
  EXPECT_EQ(ask(SOCK_STREAM, test4_, false), "A");
  EXPECT_NE(table_routes(table_, "-6").find("default via " + b_.peer6), std::string::npos);
  stop_route();
  EXPECT_FALSE(rule_present()) << routing_state();
  EXPECT_EQ(table_routes(table_, "-6") + table_routes(table_), "");
  EXPECT_EQ(ask(SOCK_STREAM, test6_), "A");
  EXPECT_EQ(ask(SOCK_STREAM, test4_), "A");
}

TEST_F(ProxyRouteTest, WhenTheGatewaysDeviceGoesTheCgroupsTrafficFailsAndDoesNotGoAround) {
  start_route(via_b());
  ASSERT_EQ(ask(SOCK_STREAM, test4_), "B");
  // Both families have the rule and the unreachable guard below the gateway.
  EXPECT_NE(table_routes(table_).find("unreachable default proto 197 metric 4294967295"), std::string::npos)
      << routing_state();
  EXPECT_NE(table_routes(table_, "-6").find("unreachable default"), std::string::npos) << routing_state();
  EXPECT_EQ(ask(SOCK_STREAM, test6_), "error: No route to host") << "IPv6 with an IPv4 gateway";
  // B's link goes, and the kernel takes the gateway route with it: the main
  // table would send the cgroup to A now.
  owner_b_.run();
  ASSERT_EQ(table_routes(table_).find("via " + b_.peer4), std::string::npos) << routing_state();
  EXPECT_EQ(ask(SOCK_STREAM, test4_), "error: No route to host") << routing_state();
  EXPECT_EQ(ask(SOCK_DGRAM, test4_), "error: No route to host") << routing_state();
  EXPECT_EQ(ask(SOCK_STREAM, test4_, false), "A") << "outside the cgroup nothing changed";
  std::string log = stop_route();
  EXPECT_NE(log.find("the route unreachable (IPv6) default table"), std::string::npos) << log;
  EXPECT_FALSE(rule_present()) << routing_state();
  EXPECT_EQ(table_routes(table_) + table_routes(table_, "-6"), "") << routing_state();
  EXPECT_EQ(ask(SOCK_STREAM, test4_), "A");
}

TEST_F(ProxyRouteTest, RemoveAfterAKilledRunDeletesWhatItAddedAndNothingElse) {
  // Decoys: a rule and a route of another table, which --remove must leave.
  uint32_t other = table_ + 1;
  Cleanup decoys([&] {
    (void)sh(fmt::format("ip rule del fwmark {0:#x} lookup {1}; ip route flush table {1}", mark_ + 1, other));
  });
  ASSERT_EQ(sh(fmt::format("ip rule add fwmark {:#x} lookup {} && ip route add {}/32 via {} dev {} table {}", mark_ + 1,
                           other, test4_, a_.peer4, veth_a_, other))
                .code,
            0);
  start_route(via_b());
  auto again = run(route_args(via_b()), 20s);
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.output.find("is running already (pid"), std::string::npos) << again.output;
  auto busy = run({CGSCOPE_BIN, "proxy", "route", "--cgroup", cg_->path(), "--remove"}, 20s);
  EXPECT_NE(busy.code, 0) << "a running route is not removed under it: " << busy.output;

  route_.kill_group(SIGKILL);
  ASSERT_TRUE(route_.wait_for(10s));
  EXPECT_TRUE(rule_present()) << "a killed run leaves its routing: " << routing_state();
  EXPECT_EQ(ask(SOCK_STREAM, test4_), "B") << "and the hook still marks";
  auto left = run(route_args(via_b()), 20s);
  EXPECT_NE(left.output.find("--remove` removes them"), std::string::npos) << left.output;

  auto rm = run({CGSCOPE_BIN, "proxy", "route", "--cgroup", cg_->path(), "--remove"}, 20s);
  EXPECT_EQ(rm.code, 0) << rm.output;
  EXPECT_NE(rm.output.find("removed the hook, the rule fwmark"), std::string::npos) << rm.output;
  EXPECT_FALSE(rule_present()) << routing_state();
  EXPECT_EQ(table_routes(table_), "");
  EXPECT_FALSE(pins_present());
  EXPECT_EQ(ask(SOCK_STREAM, test4_), "A");
  EXPECT_NE(sh("ip rule").output.find(fmt::format("fwmark {:#x} lookup {}", mark_ + 1, other)), std::string::npos)
      << "the decoy rule stays";
  EXPECT_NE(table_routes(other).find(test4_), std::string::npos) << "the decoy route stays";
  auto nothing = run({CGSCOPE_BIN, "proxy", "route", "--cgroup", cg_->path(), "--remove"}, 20s);
  EXPECT_EQ(nothing.code, 0);
  EXPECT_NE(nothing.output.find("nothing to remove"), std::string::npos) << nothing.output;
}

TEST_F(ProxyRouteTest, RemoveByPinDirCleansUpAfterTheCgroupIsGone) {
  auto m = cgroup2_mount();
  ASSERT_TRUE(m);
  auto sub = ScopedCgroup::create(*m, relative_cgroup_path(*m, cg_->path()).substr(1) + "/sub");
  ASSERT_TRUE(sub) << sub.error().message;
  std::string dir = fmt::format("/sys/fs/bpf/cgscope/route-{}", sub->id());
  Cleanup pins([dir] { (void)run({CGSCOPE_BIN, "proxy", "route", "--pin-dir", dir, "--remove"}, 20s); });
  std::vector<std::string> args{
      CGSCOPE_BIN, "proxy",  "route", "--cgroup", sub->path(), "--table", std::to_string(table_),
      "--via",     b_.peer4, "--dev", veth_b_};
  start(args);
  ASSERT_TRUE(route_.running());
  route_.kill_group(SIGKILL);
  ASSERT_TRUE(route_.wait_for(10s));
  ASSERT_TRUE(sub->remove()) << "the cgroup goes; its pinned link stays, defunct";
  auto rm = run({CGSCOPE_BIN, "proxy", "route", "--pin-dir", dir, "--remove"}, 20s);
  EXPECT_EQ(rm.code, 0) << rm.output;
  EXPECT_NE(rm.output.find("the rule fwmark"), std::string::npos) << rm.output;
  EXPECT_FALSE(rule_present()) << routing_state();
  EXPECT_EQ(table_routes(table_), "");
  EXPECT_FALSE(std::filesystem::exists(dir));
}

// A refusal: exit 2, one line that names the cause, and the state as it was.
void expect_refused(const RunResult& r, const std::string& before, const std::string& after, const std::string& says) {
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
  EXPECT_EQ(after, before) << "nothing changed";
}

TEST_F(ProxyRouteTest, ATableInUseIsRefusedAndNothingChanges) {
  ASSERT_EQ(sh(fmt::format("ip route add {}/32 via {} dev {} table {}", test4_, a_.peer4, veth_a_, table_)).code, 0);
  std::string before = routing_state();
  auto r = run(route_args(via_b()), 20s);
  expect_refused(r, before, routing_state(), fmt::format("table {} already has routes", table_));
  EXPECT_FALSE(pins_present());
  EXPECT_EQ(ask(SOCK_STREAM, test4_), "A");
}

TEST_F(ProxyRouteTest, AMissingDeviceAGatewayOffLinkOrATakenMarkIsRefusedAndNothingChanges) {
  std::string before = routing_state();
  auto no_dev = run(route_args({"--via", b_.peer4, "--dev", "cgrnosuch0"}), 20s);
  expect_refused(no_dev, before, routing_state(), "--dev cgrnosuch0: no such network device");
  // On B's veth, but not on its /30: not on-link. The kernel refuses the route.
  std::string off_link = test4_.substr(0, test4_.rfind('.')) + ".20";
  auto far = run(route_args({"--via", off_link, "--dev", veth_b_}), 20s);
  expect_refused(far, before, routing_state(), "the gateway must be on a network directly connected to");
  Cleanup taken([&] { (void)sh(fmt::format("ip rule del fwmark {:#x} lookup main", mark_)); });
  ASSERT_EQ(sh(fmt::format("ip rule add fwmark {:#x} lookup main", mark_)).code, 0);
  std::string with_rule = routing_state();
  auto mark = run(route_args(via_b()), 20s);
  expect_refused(mark, with_rule, routing_state(), fmt::format("a rule already matches fwmark {:#x}", mark_));
  EXPECT_FALSE(pins_present());
}

TEST_F(ProxyRouteTest, ACgroupThatDoesNotExistIsRefused) {
  auto r = run({CGSCOPE_BIN, "proxy", "route", "--cgroup", cg_->path() + "-gone", "--table", std::to_string(table_),
                "--via", b_.peer4},
               20s);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("No such file or directory"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace cgscope::testing
