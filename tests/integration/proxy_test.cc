// cgscope proxy end to end: the real binary, its BPF programs on a real cgroup,
// real clients (curl with no proxy variable, a static busybox wget) and a real
// SOCKS5 upstream (microsocks). The destination is busybox httpd on a test host:
// a network namespace this test makes, joined to the host by a veth, its address
// routed on the host as a /32 into it, so nothing can leave the machine.
#include "proxy_fixture.h"

namespace cgscope::testing {
namespace {

TEST_F(ProxyTest, CurlWithNoProxySettingGoesThroughTheUpstream) {
  auto r = proxy_run(socks(), {"curl", "-sS", "--noproxy", "*", "-o", got_.path, url()});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(got_.path), body_) << "the body arrives byte-identical";
  EXPECT_NE(r.output.find(fmt::format("-> {}:8080", peer_ip_)), std::string::npos) << "access log: " << r.output;
  EXPECT_NE(r.output.find("1 connections proxied, 0 failed"), std::string::npos) << r.output;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << "microsocks saw the connection: " << socks_log();
}

TEST_F(ProxyTest, StaticBusyboxWgetGoesThroughTheUpstreamToo) {
  // proxychains cannot reach a static binary; the cgroup hook does.
  auto r = proxy_run(socks(), {"busybox", "wget", "-q", "-O", got_.path, url()});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(got_.path), body_);
  EXPECT_NE(r.output.find("1 connections proxied"), std::string::npos) << r.output;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << socks_log();
}

TEST_F(ProxyTest, APythonClientGoesThroughTheUpstreamToo) {
  const std::string fetch = fmt::format(
      "import urllib.request\n"
      "req = urllib.request.Request('{}')\n"
      "opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))  # no proxy setting\n"
      "open('{}', 'wb').write(opener.open(req, timeout=10).read())\n",
      url(), got_.path);
  auto r = proxy_run(socks(), {"python3", "-c", fetch});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(got_.path), body_);
  EXPECT_NE(r.output.find("1 connections proxied"), std::string::npos) << r.output;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << socks_log();
}

TEST_F(ProxyTest, CommandsStatusIsTheExitCodeAndNothingIsLeftBehind) {
  auto r = proxy_run(socks(), {"sh", "-c", "exit 7"});
  EXPECT_EQ(r.code, 7) << r.output;
  auto m = cgroup2_mount();
  ASSERT_TRUE(m);
  for (const auto& e : std::filesystem::directory_iterator(*m))
    EXPECT_EQ(e.path().filename().string().find("cgscope-run-"), std::string::npos) << e.path();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/fs/bpf/cgscope", ec))
    EXPECT_EQ(e.path().filename().string().find("proxy-"), std::string::npos) << "pins left: " << e.path();
}

TEST_F(ProxyTest, AStoppedUpstreamFailsTheClientAtOnce) {
  uint16_t dead = free_port();  // nothing listens there
  auto t0 = Clock::now();
  auto r = proxy_run(fmt::format("socks5://127.0.0.1:{}", dead),
                     {"curl", "-sS", "--max-time", "20", "-o", got_.path, url()});
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.code, 28) << "curl timed out instead of failing: " << r.output;
  EXPECT_LT(secs, 15.0) << r.output;
  EXPECT_NE(r.output.find("upstream unreachable"), std::string::npos) << r.output;
}

TEST_F(ProxyTest, IdleTimeoutClosesAQuietConnectionAndBadTimeoutsAreRefused) {
  // busybox httpd waits a minute for a request: the relay's idle timeout ends
  // the connection first, with an end of file for the client.
  const std::string client = fmt::format(
      "import socket, time\n"
      "s = socket.create_connection(('{}', 8080))\n"
      "t = time.time()\n"
      "d = s.recv(10)\n"
      "open('{}', 'w').write(('eof ' if d == b'' else 'data ') + str(round(time.time() - t, 1)))\n",
      peer_ip_, got_.path);
  auto r = run({CGSCOPE_BIN, "proxy", "run", "--via", "direct", "--idle-timeout", "0.5", "--", "python3", "-c", client},
               kRunLimit);
  ASSERT_EQ(r.code, 0) << r.output;
  std::string said = slurp(got_.path);  // not stdout: the access log shares the terminal
  ASSERT_EQ(said.rfind("eof ", 0), 0u) << said << "\n" << r.output;
  double waited = std::stod(said.substr(4));
  EXPECT_GE(waited, 0.4) << r.output;
  EXPECT_LT(waited, 5.0) << r.output;
  EXPECT_NE(r.output.find("idle timeout"), std::string::npos) << "the access log says why: " << r.output;
  for (const char* bad : {"-1", "0", "abc"}) {
    auto b = run({CGSCOPE_BIN, "proxy", "run", "--via", "direct", "--connect-timeout", bad, "--", "true"}, kRunLimit);
    EXPECT_NE(b.code, 0) << "--connect-timeout " << bad << ": " << b.output;
  }
  auto neg = run({CGSCOPE_BIN, "proxy", "run", "--via", "direct", "--idle-timeout", "-1", "--", "true"}, kRunLimit);
  EXPECT_NE(neg.code, 0) << neg.output;
}

TEST_F(ProxyTest, AConnectionToTheRelayThatWasNotRedirectedIsNotForwarded) {
  // The relay's port from its start line; then a connect from outside the cgroup.
  Child cg;
  ASSERT_TRUE(cg.start({CGSCOPE_BIN, "proxy", "run", "--via", socks(), "--", "sleep", "30"},
                       {.err = Stream::kPipe, .name = "cgscope proxy run"}))
      << cg.error();
  std::string err;
  ASSERT_EQ(read_until(cg.pipe_fd(), err, Clock::now() + 30s,
                       [](const std::string& s) { return s.find("(relay ") != std::string::npos; }),
            ReadEnd::kDone)
      << err;
  auto at = err.find("(relay 127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << err;
  uint16_t relay_port = uint16_t(std::stoi(err.substr(at + 17)));
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(relay_port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // The relay resets it; on a slow machine the reset can beat connect()'s return.
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = fmt::format("GET /file HTTP/1.0\r\nHost: {}\r\n\r\n", peer_ip_);
    (void)!::write(s.get(), req.data(), req.size());
    timeval tv{5, 0};
    setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    EXPECT_LE(::read(s.get(), buf, sizeof buf), 0) << "the relay answered a connection nobody redirected";
  } else {
    EXPECT_EQ(errno, ECONNRESET);
  }
  cg.signal(SIGTERM);
  auto st = cg.wait_for(30s);
  ASSERT_TRUE(st);
  read_until(cg.pipe_fd(), err, Clock::now() + 5s);
  EXPECT_NE(err.find("not redirected"), std::string::npos) << err;
  EXPECT_EQ(socks_log().find(peer_ip_), std::string::npos) << "nothing reached the upstream: " << socks_log();
}


TEST_F(ProxyAttachTest, GetpeernameShowsTheDialledAddressAndBypassGoesDirect) {
  attach({"--via", socks(), "--bypass", host_ip_ + "/32"});
  auto [err, peer] = connect_from_cgroup(peer_ip_, 8080);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(peer, peer_ip_ + ":8080") << "getpeername shows what was dialled, not the relay";
  // The bypassed address goes direct: nothing listens there, so it is refused by
  // the test host's own kernel, and the relay never sees it.
  auto [err2, peer2] = connect_from_cgroup(host_ip_, 9);
  EXPECT_EQ(err2, ECONNREFUSED);
  std::string log = stop_and_log();
  EXPECT_NE(log.find("1 connections proxied"), std::string::npos) << log;
  EXPECT_NE(log.find("1 redirected, 1 direct"), std::string::npos) << log;
}

TEST_F(ProxyAttachTest, ADeadRelayFailsClosed) {
  attach({"--via", socks()});
  attached_.kill_group(SIGKILL);  // no cleanup: the pinned hooks stay, the relay is gone
  ASSERT_TRUE(attached_.wait_for(10s));
  auto [err, peer] = connect_from_cgroup(peer_ip_, 8080);
  EXPECT_EQ(err, ECONNREFUSED) << "refused, never sent around the upstream";
  auto reset = run({CGSCOPE_BIN, "proxy", "reset", "--cgroup", cg_->path()}, 20s);
  EXPECT_EQ(reset.code, 0) << reset.output;
  auto [err2, peer2] = connect_from_cgroup(peer_ip_, 8080);
  EXPECT_EQ(err2, 0) << "after reset the cgroup connects directly again";
}

TEST_F(ProxyTest, Socks5CredentialsAreSentAndWrongOnesFailClearly) {
  Child authed;
  uint16_t port = free_port();
  ASSERT_TRUE(authed.start({"microsocks", "-i", "127.0.0.1", "-p", std::to_string(port), "-u", "bob", "-P", "s3cret"},
                           {.err = Stream::kNull, .name = "microsocks with auth"}))
      << authed.error();
  ASSERT_TRUE(eventually([&] { return connects_to("127.0.0.1", port); }));
  auto good = proxy_run(fmt::format("socks5://bob:s3cret@127.0.0.1:{}", port),
                        {"curl", "-sS", "-o", got_.path, url()});
  ASSERT_EQ(good.code, 0) << good.output;
  EXPECT_EQ(slurp(got_.path), body_);
  EXPECT_EQ(good.output.find("s3cret"), std::string::npos) << "the password is never printed: " << good.output;
  auto bad = proxy_run(fmt::format("socks5://bob:wrong@127.0.0.1:{}", port), {"curl", "-sS", "-o", got_.path, url()});
  EXPECT_NE(bad.code, 0) << bad.output;
  EXPECT_NE(bad.output.find("auth"), std::string::npos) << "the log says the credentials were refused: " << bad.output;
}

TEST_F(ProxyTest, HttpConnectThroughTinyproxy) {
  if (!have("tinyproxy")) GTEST_SKIP() << "tinyproxy is not installed";
  TempPath conf("tinyproxy.conf"), tlog("tinyproxy.log");
  uint16_t port = free_port();
  std::ofstream(conf.path) << fmt::format(
      "Port {}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 20\n"
      "ConnectPort 8080\nAllow 127.0.0.1\n",
      port, tlog.path);
  Child tp;
  ASSERT_TRUE(tp.start({"tinyproxy", "-d", "-c", conf.path}, {.out = Stream::kNull, .err = Stream::kNull}))
      << tp.error();
  ASSERT_TRUE(eventually([&] { return connects_to("127.0.0.1", port); }));
  auto r = proxy_run(fmt::format("http://127.0.0.1:{}", port), {"busybox", "wget", "-q", "-O", got_.path, url()});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(got_.path), body_);
  EXPECT_TRUE(eventually([&] { return slurp(tlog.path).find("CONNECT") != std::string::npos; }))
      << "tinyproxy logged the CONNECT: " << slurp(tlog.path);
}

TEST_F(ProxyAttachTest, AClientInItsOwnNetworkNamespaceReachesTheRelayAddress) {
  // The test host's side of the veth is an address the namespace can reach; the
  // client runs in the test host's namespace, like a build step behind a bridge.
  attach({"--via", socks(), "--relay-addr", host_ip_});
  EXPECT_NE(log_.find("(relay " + host_ip_ + ":"), std::string::npos) << log_;
  auto [r, got] = wget_in_cgroup_from_namespace();
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(got, body_);
  std::string log = stop_and_log();
  EXPECT_NE(log.find("1 connections proxied"), std::string::npos) << log;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << socks_log();
}

}  // namespace
}  // namespace cgscope::testing

namespace cgscope::testing {
namespace {

TEST_F(ProxyTest, TheNextRunRemovesWhatAKilledRunLeft) {
  Child killed;
  ASSERT_TRUE(killed.start({CGSCOPE_BIN, "proxy", "run", "--via", socks(), "--", "sleep", "60"},
                           {.err = Stream::kPipe, .name = "proxy run to be killed"}))
      << killed.error();
  std::string log;
  ASSERT_EQ(read_until(killed.pipe_fd(), log, Clock::now() + 30s,
                       [](const std::string& s) { return s.find("(relay ") != std::string::npos; }),
            ReadEnd::kDone)
      << log;
  auto mount = cgroup2_mount();
  ASSERT_TRUE(mount) << mount.error().message;
  std::string cg = fmt::format("{}/cgscope-run-{}", *mount, killed.pid());
  auto id = cgroup_id(cg);
  ASSERT_TRUE(id) << id.error().message;
  std::string pins = fmt::format("/sys/fs/bpf/cgscope/proxy-{}", *id);
  ASSERT_TRUE(std::filesystem::exists(pins));
  // SIGKILL to cgscope alone: sleep goes on in the cgroup, proxied fail-closed.
  ASSERT_EQ(::kill(killed.pid(), SIGKILL), 0);
  ASSERT_TRUE(killed.wait_for(10s));
  ASSERT_TRUE(std::filesystem::exists(cg));
  auto next = proxy_run(socks(), {"true"});
  EXPECT_EQ(next.code, 0) << next.output;
  EXPECT_NE(next.output.find(fmt::format("removed cgscope-run-{} left by a cgscope that was killed", killed.pid())),
            std::string::npos)
      << next.output;
  EXPECT_NE(next.output.find("removed " + pins + ", the pins of a proxy whose cgroup is gone"), std::string::npos)
      << next.output;
  EXPECT_FALSE(std::filesystem::exists(cg));
  EXPECT_FALSE(std::filesystem::exists(pins));
}

}  // namespace
}  // namespace cgscope::testing

namespace cgscope::testing {
namespace {

TEST_F(ProxyAttachTest, OneProxyACgroupAndResetLeavesARunningOneAlone) {
  attach({"--via", socks()});
  auto second = run({CGSCOPE_BIN, "proxy", "attach", "--cgroup", cg_->path(), "--via", socks()}, 30s);
  EXPECT_EQ(second.code, 2) << second.output;
  EXPECT_NE(second.output.find("another cgscope proxy runs on this cgroup"), std::string::npos) << second.output;
  auto reset = run({CGSCOPE_BIN, "proxy", "reset", "--cgroup", cg_->path()}, 30s);
  EXPECT_NE(reset.code, 0) << reset.output;
  EXPECT_NE(reset.output.find("a running cgscope proxy owns"), std::string::npos) << reset.output;
  // The first one still proxies (the connect reached its relay; whether the
  // relay's upstream side was done before the stop is timing, not asserted).
  EXPECT_EQ(connect_from_cgroup(peer_ip_, 8080).first, 0);
  std::string log = stop_and_log();
  EXPECT_NE(log.find("kernel: 1 redirected"), std::string::npos) << log;
}

TEST_F(ProxyAttachTest, AKilledProxysHooksStayThroughOtherRunsAndANewOneTakesThemOver) {
  attach({"--via", socks()});
  attached_.signal(SIGKILL);
  ASSERT_TRUE(attached_.wait_for(10s));
  auto id = cgroup_id(cg_->path());
  ASSERT_TRUE(id) << id.error().message;
  std::string pins = fmt::format("/sys/fs/bpf/cgscope/proxy-{}", *id);
  // Another proxy run's sweep leaves a live cgroup's fail-closed pins alone.
  auto other = proxy_run(socks(), {"true"});
  EXPECT_EQ(other.code, 0) << other.output;
  ASSERT_TRUE(std::filesystem::exists(pins + "/link_connect4")) << other.output;
  EXPECT_EQ(connect_from_cgroup(peer_ip_, 8080).first, ECONNREFUSED) << "fail closed while no proxy runs";
  // A new attach swaps its programs into the links: no moment without hooks.
  attached_ = Child();
  log_.clear();
  attach({"--via", socks()});
  EXPECT_EQ(connect_from_cgroup(peer_ip_, 8080).first, 0);
  stop_and_log();
  EXPECT_FALSE(std::filesystem::exists(pins)) << "a clean stop removes what it took over";
}

}  // namespace
}  // namespace cgscope::testing
