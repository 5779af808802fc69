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
  TempPath conf("resolv");
  std::ofstream(conf.path) << "nameserver " << peer_ip_ << "\noptions attempts:1 timeout:3\n";
  attach({"--via", socks(), "--dns"});
  // getent in a mount namespace of its own, with the test's resolv.conf bound over
  // the host's: nothing of the host's configuration changes.
  auto r = run({"sh", "-c",
                fmt::format("echo $$ > {}/cgroup.procs && exec unshare -m sh -c 'mount --bind {} /etc/resolv.conf && "
                            "exec getent ahostsv4 {}'",
                            cg_->path(), conf.path, kName)},
               kRunLimit);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(peer_ip_), std::string::npos) << r.output;
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("dns {} A from", kName)), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

TEST_F(ProxyDnsTest, ASocks5hUpstreamGetsTheNameTheProgramLookedUp) {
  if (!std::filesystem::exists("/etc/hosts")) GTEST_SKIP() << "no /etc/hosts to bind the test's names over";
  // A second microsocks that knows the test name (its own /etc/hosts, in a mount
  // namespace of its own): it can only connect if it is given the name.
  TempPath hosts("hosts"), conf("resolv");
  std::ofstream(hosts.path) << peer_ip_ << " " << kName << "\n";
  std::ofstream(conf.path) << "nameserver " << peer_ip_ << "\noptions attempts:1 timeout:3\n";
  uint16_t port = free_port();
  Child named;
  ASSERT_TRUE(named.start({"unshare", "-m", "sh", "-c",
                           fmt::format("mount --bind {} /etc/hosts && exec microsocks -i 127.0.0.1 -p {}", hosts.path,
                                       port)},
                          {.err = Stream::kPipe, .name = "microsocks with the test's hosts"}))
      << named.error();
  ASSERT_TRUE(eventually([&] { return connects_to("127.0.0.1", port); }));
  attach({"--via", fmt::format("socks5h://127.0.0.1:{}", port), "--dns"});
  TempPath out("byname");
  auto r = run({"sh", "-c",
                fmt::format("echo $$ > {}/cgroup.procs && exec unshare -m sh -c 'mount --bind {} /etc/resolv.conf && "
                            "exec curl -sS --max-time 20 -o {} http://{}:8080/file'",
                            cg_->path(), conf.path, out.path, kName)},
               kRunLimit);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(out.path), body_);
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("-> {}:8080 ({}:8080)", kName, peer_ip_)), std::string::npos) << log;
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
