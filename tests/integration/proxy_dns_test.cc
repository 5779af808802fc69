// cgscope proxy --dns and the relay address for other network namespaces, end to
// end (the nameserver and the resolvers: proxy_dns_fixture.h).
#include "proxy_dns_fixture.h"

namespace cgscope::testing {
namespace {

TEST_F(ProxyDnsTest, AConnectedResolverGetsTheAnswerThroughTheUpstreamFromTheServerItAsked) {
  attach({"--via", socks(), "--dns"});
  Asked a = ask_from_cgroup(true);
  EXPECT_EQ(a.answer, peer_ip_) << "the answer must come over TCP through the upstream, not the UDP marker";
  EXPECT_EQ(a.from, peer_ip_ + ":53");
  EXPECT_EQ(a.peer, peer_ip_ + ":53") << "getpeername shows the nameserver dialled";
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("dns {} A from", kName)), std::string::npos) << log;
  EXPECT_NE(log.find("dns: 1 queries, 1 answered"), std::string::npos) << log;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << "microsocks saw no connection: " << socks_log();
  EXPECT_EQ(udp_leaks(), "") << "a query reached the nameserver over UDP, around the upstream";
}

TEST_F(ProxyDnsTest, AnUnconnectedResolverGetsItsReplyFromTheServersAddress) {
  attach({"--via", socks(), "--dns"});
  for (int i = 0; i < 3; i++) {
    Asked a = ask_from_cgroup(false);
    EXPECT_EQ(a.answer, peer_ip_);
    EXPECT_EQ(a.from, peer_ip_ + ":53") << "recvfrom must show the server asked, not the forwarder";
  }
  std::string log = stop_and_log();
  EXPECT_NE(log.find("dns: 3 queries, 3 answered"), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

TEST_F(ProxyDnsTest, WithoutDnsQueriesGoDirectAndWithADeadForwarderTheyFailClosed) {
  // Without --dns, UDP is not touched: the query reaches the server's UDP side.
  attach({"--via", socks()});
  EXPECT_EQ(ask_from_cgroup(true).answer, kLeakMarker);
  stop_and_log();
  attached_ = Child();
  log_.clear();
  std::filesystem::remove(state_.path + "/udp");
  // With --dns and cgscope killed, the hooks stay and the forwarder is gone: the
  // query is refused, never sent around the upstream.
  attach({"--via", socks(), "--dns"});
  attached_.signal(SIGKILL);
  ASSERT_TRUE(attached_.wait_for(10s));
  Asked a = ask_from_cgroup(true);
  EXPECT_EQ(a.answer, "error") << "answer " << a.answer << " from " << a.from;
  EXPECT_EQ(a.from, std::to_string(ECONNREFUSED));
  EXPECT_EQ(udp_leaks(), "");
}

TEST_F(ProxyDnsTest, GlibcsResolverInTheCgroupLooksUpThroughTheUpstream) {
  attach({"--via", socks(), "--dns"});
  auto r = run_resolving(cg_->path(), fmt::format("exec getent ahostsv4 {}", kName));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(peer_ip_), std::string::npos) << r.output;
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("dns {} A from", kName)), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

TEST_F(ProxyDnsTest, ASocks5hUpstreamGetsTheNameTheProgramLookedUp) {
  start_named_socks();
  if (IsSkipped() || HasFatalFailure()) return;
  attach({"--via", fmt::format("socks5h://127.0.0.1:{}", named_port_), "--dns"});
  TempPath out("byname");
  auto r = run_resolving(cg_->path(), fmt::format("exec curl -sS --max-time 20 -o {} http://{}:8080/file", out.path,
                                                  kName));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(out.path), body_);
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("-> {}:8080 ({}:8080)", kName, peer_ip_)), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

// The name a lookup returned is one client's (the cgroup of its socket): a
// process in a sibling cgroup below the proxied one, connecting to the same
// address without having looked it up, is sent to the upstream as the address.
TEST_F(ProxyDnsTest, AnotherClientsConnectToAnAddressOnlyOneLookedUpGoesAsTheAddress) {
  start_named_socks();
  if (IsSkipped() || HasFatalFailure()) return;
  auto a = ScopedCgroup::create(cg_->path(), "a");
  auto b = ScopedCgroup::create(cg_->path(), "b");
  ASSERT_TRUE(a && b) << (a ? b.error().message : a.error().message);
  attach({"--via", fmt::format("socks5h://127.0.0.1:{}", named_port_), "--dns"});
  auto looked = run_resolving(a->path(), fmt::format("exec getent ahostsv4 {}", kName));
  ASSERT_EQ(looked.code, 0) << looked.output;
  // The test file by address (no lookup) from a process in `cgroup`.
  auto fetch_from = [&](const std::string& cgroup) {
    TempPath out("gotbyaddr");
    auto r = run({"sh", "-c",
                  fmt::format("echo $$ > {}/cgroup.procs && exec curl -sS --max-time 20 -o {} {}", cgroup, out.path,
                              url())},
                 kRunLimit);
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(slurp(out.path), body_);
  };
  fetch_from(b->path());
  fetch_from(a->path());
  std::string log = stop_and_log();
  // One connection by name (a's), one by address (b's).
  EXPECT_NE(log.find(fmt::format("cgroup {} -> {}:8080 ({}:8080)", a->id(), kName, peer_ip_)), std::string::npos)
      << log;
  EXPECT_NE(log.find(fmt::format("cgroup {} -> {}:8080 via", b->id(), peer_ip_)), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

// The relay address for other namespaces, picked from where the cgroup's
// processes are: here a process in the test host's namespace, whose only route
// to the host is the /32 of the veth's host end.
TEST_F(ProxyAttachTest, TheRelayAddressForOtherNamespacesIsPickedFromTheCgroupsProcesses) {
  Child sleeper;
  ASSERT_TRUE(sleeper.start({"ip", "netns", "exec", netns_.name(), "sleep", "60"},
                            {.cgroup = cg_->path(), .name = "sleeper in the test namespace"}))
      << sleeper.error();
  ASSERT_TRUE(eventually([&] { return slurp(cg_->path() + "/cgroup.procs").size() > 0; }));
  // ip netns exec execs sleep in the namespace: wait until it is there.
  std::this_thread::sleep_for(200ms);
  attach({"--via", socks()});
  EXPECT_NE(log_.find("other network namespaces reach the relay at " + host_ip_), std::string::npos) << log_;
  auto [r, got] = wget_in_cgroup_from_namespace();
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(got, body_);
  std::string log = stop_and_log();
  EXPECT_NE(log.find("1 connections proxied"), std::string::npos) << log;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << socks_log();
}

}  // namespace
}  // namespace cgscope::testing
