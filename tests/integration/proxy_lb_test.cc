// lb and proxy on one cgroup (core/hook_order.h): lb applied first balances a
// connect to a service address to a backend, and the proxy then sends the
// backend through the upstream. Applied the other way round, both commands say
// that the service is not balanced for the proxied programs, and so does an lb
// applied later to a cgroup above a running proxy.
#include "proxy_fixture.h"

namespace cgscope::testing {
namespace {

class ProxyLbTest : public ProxyAttachTest {
 protected:
  void SetUp() override {
    ProxyAttachTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pins_ = TempPath::adopt("/sys/fs/bpf/" + unique_name("pxlb"));
    // The service address, routed on the host as a /32 into the test's own
    // namespace: even unbalanced and unproxied, nothing leaves the machine.
    vip_ = fmt::format("10.96.{}.10", 1 + getpid() % 250);
    auto r = run({"ip", "route", "add", vip_ + "/32", "dev", veth_});
    ASSERT_EQ(r.code, 0) << r.output;
    auto route = run({"ip", "route", "get", vip_});
    ASSERT_NE(route.output.find("dev " + veth_), std::string::npos) << route.output;
    config_ = TempPath("lb.yaml");
    std::ofstream(config_.path) << fmt::format(
        "services:\n  - {{name: web, addresses: [{}], ports: [{{port: 80, target_port: 8080}}], "
        "endpoints: [{{address: {}}}]}}\n",
        vip_, peer_ip_);
  }
  void TearDown() override {
    ProxyAttachTest::TearDown();
    (void)run({CGSCOPE_BIN, "lb", "reset", "--pin-dir", pins_.path}, 20s);
  }
  RunResult lb_apply() {
    return run({CGSCOPE_BIN, "lb", "apply", config_.path, "--cgroup", cg_->path(), "--pin-dir", pins_.path}, 30s);
  }
  // busybox wget of the service address from a process in the cgroup (bounded
  // by timeout(1): Debian 12's busybox wget crashes on its own -T).
  RunResult wget_service(const std::string& out, const std::string& cgroup = "") {
    return run({"sh", "-c",
                fmt::format("echo $$ > {}/cgroup.procs && exec timeout 20 busybox wget -q -O {} http://{}/file",
                            cgroup.empty() ? cg_->path() : cgroup, out, vip_)},
               kRunLimit);
  }
  // `proxy attach` on `cgroup` (one below the test's) in `p`, until its start line.
  void attach_below(Child& p, const std::string& cgroup, std::string& log) {
    ASSERT_TRUE(p.start({CGSCOPE_BIN, "proxy", "attach", "--cgroup", cgroup, "--via", socks()},
                        {.err = Stream::kPipe, .death_signal = SIGTERM, .name = "proxy attach below"}))
        << p.error();
    ASSERT_EQ(read_until(p.pipe_fd(), log, Clock::now() + 30s,
                         [](const std::string& s) { return s.find("(relay ") != std::string::npos; }),
              ReadEnd::kDone)
        << log;
  }

  std::string vip_;
  TempPath pins_ = TempPath::adopt("");
  TempPath config_ = TempPath::adopt("");
};

TEST_F(ProxyLbTest, LbFirstBalancesAndTheProxyCarriesTheBackendThroughTheUpstream) {
  auto applied = lb_apply();
  ASSERT_EQ(applied.code, 0) << applied.output;
  attach({"--via", socks()});
  EXPECT_EQ(log_.find("warning"), std::string::npos) << log_;
  TempPath out("lbgot");
  auto r = wget_service(out.path);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(out.path), body_);
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("-> {}:8080 via socks5", peer_ip_)), std::string::npos) << log;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << socks_log();
}

TEST_F(ProxyLbTest, TheOtherOrderIsNamedByBothCommands) {
  attach({"--via", socks()});
  auto applied = lb_apply();
  ASSERT_EQ(applied.code, 0) << applied.output;
  EXPECT_NE(applied.output.find("the proxy's hook runs before lb's"), std::string::npos) << applied.output;
  // The proxy got the service address, which only lb could have balanced.
  TempPath out("lbgot");
  EXPECT_NE(wget_service(out.path).code, 0);
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("-> {}:80 via socks5", vip_)), std::string::npos) << log;
  // A proxy that attaches again comes after lb (a new link goes last): the order
  // is right then, and the service is balanced and proxied.
  attached_ = Child();
  log_.clear();
  attach({"--via", socks()});
  EXPECT_EQ(log_.find("warning"), std::string::npos) << log_;
  EXPECT_EQ(wget_service(out.path).code, 0);
  EXPECT_EQ(slurp(out.path), body_);
}

TEST_F(ProxyLbTest, AProxyThatAttachesBelowLbsCgroupSaysItRunsFirst) {
  // lb on the parent, the proxy on a child: the child's programs run first.
  auto child = ScopedCgroup::create(cg_->path(), "inner");
  ASSERT_TRUE(child) << child.error().message;
  auto applied = lb_apply();
  ASSERT_EQ(applied.code, 0) << applied.output;
  Child p;
  std::string log;
  attach_below(p, child->path(), log);
  if (HasFatalFailure()) return;
  EXPECT_NE(log.find("warning: on " + child->path()), std::string::npos) << log;
  p.signal(SIGTERM);
  EXPECT_TRUE(p.wait_for(20s));
}

// The other way round: the proxy runs on a child, and lb is applied to the
// parent later. lb's hook runs after the proxy's (the child's programs first),
// so `lb apply` names the proxy's cgroup; on the proxy's own cgroup it would not.
TEST_F(ProxyLbTest, LbAppliedAboveARunningProxyNamesTheProxysCgroup) {
  auto child = ScopedCgroup::create(cg_->path(), "inner");
  ASSERT_TRUE(child) << child.error().message;
  // After the proxy is gone (declared before it, so run after it is ended): a
  // proxy killed by a failed assertion leaves its fail-closed pins.
  Cleanup reset([path = child->path()] { (void)run({CGSCOPE_BIN, "proxy", "reset", "--cgroup", path}, 20s); });
  Child p;
  std::string log;
  attach_below(p, child->path(), log);
  if (HasFatalFailure()) return;
  auto applied = lb_apply();
  ASSERT_EQ(applied.code, 0) << applied.output;
  EXPECT_NE(applied.output.find(fmt::format("warning: a running cgscope proxy is attached to {}, below {}",
                                            child->path(), cg_->path())),
            std::string::npos)
      << applied.output;
  EXPECT_NE(applied.output.find("go to the upstream unbalanced"), std::string::npos) << applied.output;
  // What it says happens: the child's connect to the service reaches the proxy
  // as the service address.
  TempPath out("lbgot");
  (void)wget_service(out.path, child->path());
  p.signal(SIGTERM);
  EXPECT_TRUE(p.wait_for(20s));
  read_until(p.pipe_fd(), log, Clock::now() + 5s);
  EXPECT_NE(log.find(fmt::format("-> {}:80 via socks5", vip_)), std::string::npos) << log;
}

TEST_F(ProxyLbTest, LbAppliedBelowARunningProxySaysNothing) {
  auto child = ScopedCgroup::create(cg_->path(), "inner");
  ASSERT_TRUE(child) << child.error().message;
  attach({"--via", socks()});
  auto applied = run({CGSCOPE_BIN, "lb", "apply", config_.path, "--cgroup", child->path(), "--pin-dir", pins_.path},
                     30s);
  ASSERT_EQ(applied.code, 0) << applied.output;
  EXPECT_EQ(applied.output.find("warning"), std::string::npos) << applied.output;
}

}  // namespace
}  // namespace cgscope::testing
