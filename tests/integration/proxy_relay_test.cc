// The relay of `cgscope proxy` against real upstreams from Debian's packages
// (microsocks, dante-server, tinyproxy), each started here on loopback and
// stopped after. No BPF: the test client connects straight to the relay from a
// port it bound first, and the relay's lookup maps that port to the real
// destination, an echo server played by a thread of this test. All traffic is
// on 127.0.0.1.
#include <netdb.h>
#include <sys/resource.h>

#include <sstream>

#include "relay_harness.h"

namespace cgscope::testing {
namespace {

using namespace relay_harness;


// ---------------------------------------------------------------------------
// The upstreams, each a Child in its own process group, its log in a TempPath.

bool installed(const char* path) { return ::access(path, X_OK) == 0; }

#define REQUIRE_BINARY(path) \
  if (!installed(path)) GTEST_SKIP() << path << " is not installed (scripts/install-deps.sh installs it)"

struct Daemon {
  TempPath dir{"proxy-upstream"};
  Child child;
  uint16_t port = 0;
  std::string log() const { return dir.path + "/log"; }
  bool started(std::vector<std::string> argv, std::string& err) {
    port = port ? port : free_port();
    // The log goes to a file: a pipe nobody reads would stall a busy daemon.
    std::string cmd = "exec";
    for (auto& a : argv) cmd += " '" + a + "'";
    cmd += " >'" + log() + "' 2>&1";
    if (!child.start({"sh", "-c", cmd}, {.name = argv[0]})) return err = child.error(), false;
    if (!wait_listening(port))
      return err = argv[0] + " did not listen on port " + std::to_string(port) + ": " + read_file(log()), false;
    return true;
  }
};

bool start_microsocks(Daemon& d, std::string& err, const std::string& user = "", const std::string& pass = "") {
  std::filesystem::create_directories(d.dir.path);
  d.port = free_port();
  std::vector<std::string> argv = {"/usr/bin/microsocks", "-i", "127.0.0.1", "-p", std::to_string(d.port)};
  if (!user.empty()) argv.insert(argv.end(), {"-u", user, "-P", pass});
  return d.started(argv, err);
}

bool start_tinyproxy(Daemon& d, uint16_t allowed_port, std::string& err) {
  std::filesystem::create_directories(d.dir.path);
  d.port = free_port();
  std::ofstream(d.dir.path + "/tinyproxy.conf")
      << "Port " << d.port << "\nListen 127.0.0.1\nTimeout 30\n"
      << "LogFile \"" << d.dir.path << "/tinyproxy.log\"\nLogLevel Connect\n"
      << "MaxClients 200\nAllow 127.0.0.1\nConnectPort " << allowed_port << "\n";
  return d.started({"/usr/bin/tinyproxy", "-d", "-c", d.dir.path + "/tinyproxy.conf"}, err);
}

bool start_danted(Daemon& d, std::string& err) {
  std::filesystem::create_directories(d.dir.path);
  d.port = free_port();
  std::ofstream(d.dir.path + "/danted.conf")
      << "logoutput: " << d.dir.path << "/danted.log\ninternal: 127.0.0.1 port = " << d.port
      << "\nexternal: 127.0.0.1\nsocksmethod: none\nclientmethod: none\nuser.privileged: root\n"
      << "user.unprivileged: nobody\nclient pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: error connect "
         "disconnect\n}\nsocks pass {\n  from: 127.0.0.0/8 to: 127.0.0.0/8\n  command: connect\n  log: error connect "
         "disconnect\n}\n";
  return d.started({"/usr/sbin/danted", "-f", d.dir.path + "/danted.conf", "-N", "1"}, err);
}

// ---------------------------------------------------------------------------
// Tests

constexpr size_t kBulk = 4 << 20;  // each way

// Sends `size` (kBulk unless said) bytes of a known pattern through the relay to the echo server and
// back; checks both directions byte for byte and the record. With
// `half_close_first` the client shuts its write side as soon as it has sent
// everything and must still get all of the echo, then the end: the half-close
// went through. microsocks and tinyproxy end the whole connection when one side
// ends, so through them the client reads everything first, then shuts.
void bulk_round_trip(RelayHarness& h, EchoServer& echo, const std::string& upstream_text, bool half_close_first,
                     size_t size = kBulk) {
  std::string data = pattern(size, 7);
  UniqueFd c = h.dial(echo.destination());
  ASSERT_TRUE(c) << strerror(errno);
  Exchange x = exchange(c.get(), data, 30s, half_close_first, half_close_first ? SIZE_MAX : data.size());
  EXPECT_EQ(x.error, 0) << strerror(x.error);
  if (!half_close_first) {
    ::shutdown(c.get(), SHUT_WR);
    Exchange rest = receive(c.get(), 1);
    x.received += rest.received;
    x.eof = rest.eof;
  }
  EXPECT_TRUE(x.eof) << "the end of the client's data did not come back as an end of file";
  ASSERT_EQ(x.received.size(), data.size());
  EXPECT_TRUE(x.received == data) << "the bytes that came back differ from those sent";
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "ok");
  EXPECT_EQ(recs[0].bytes_up, size);
  EXPECT_EQ(recs[0].bytes_down, size);
  EXPECT_EQ(recs[0].meta.cgroup_id, 4242u);
  EXPECT_EQ(recs[0].upstream, upstream_text);
  EXPECT_EQ(proxy::format_address(recs[0].dst.addr), "127.0.0.1:" + std::to_string(echo.port()));
  auto st = h.relay().stats();
  EXPECT_EQ(st.accepted, 1u);
  EXPECT_EQ(st.forwarded, 1u);
  EXPECT_EQ(st.active, 0u);
}

TEST(ProxyRelay, DirectCarriesBothWaysAndTheHalfClose) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  bulk_round_trip(h, echo, "direct", true);
  EXPECT_EQ(h.upstream_sockets(), 1) << "the relay's own socket was not shown to on_upstream_socket";
  EXPECT_EQ(echo.accepted(), 1);
}

// Long enough for the pumps to go bulk, fill their pipes, block on a full
// destination and come back many times over.
TEST(ProxyRelay, AHundredMegabytesEachWayArriveByteForByte) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  bulk_round_trip(h, echo, "direct", true, 100 << 20);
}

// A client that stops reading fills every buffer on the way back: the relay's
// pumps block (and stop watching their sources' input); once the client reads
// again everything moves, in order.
TEST(ProxyRelay, PumpsBlockedOnAClientThatStopsReadingResumeWhenItReads) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  // More than every buffer on the way can hold (socket buffers autotune to several
  // MiB each on loopback; 64 MiB once all went out on a fresh machine).
  std::string data = pattern(256 << 20, 11);
  UniqueFd c = h.dial(echo.destination());
  ASSERT_TRUE(c) << strerror(errno);
  ::fcntl(c.get(), F_SETFL, ::fcntl(c.get(), F_GETFL) | O_NONBLOCK);
  size_t off = 0;
  for (auto quiet_since = Clock::now(); off < data.size() && Clock::now() - quiet_since < 300ms;) {
    ssize_t n = ::send(c.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      quiet_since = Clock::now();
    } else {
      std::this_thread::sleep_for(10ms);
    }
  }
  ASSERT_LT(off, data.size()) << "all of it went out while the client did not read: nothing blocked";
  Exchange x = exchange(c.get(), data.substr(off), 60s, true);
  EXPECT_EQ(x.error, 0) << strerror(x.error);
  EXPECT_TRUE(x.eof);
  ASSERT_EQ(x.received.size(), data.size());
  EXPECT_TRUE(x.received == data) << "the bytes that came back differ from those sent";
}

TEST(ProxyRelay, DirectWithoutSpliceToo) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  h.splice = false;
  ASSERT_TRUE(h.start("direct")) << h.error();
  bulk_round_trip(h, echo, "direct", true);
}

TEST(ProxyRelay, Socks5ThroughMicrosocks) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  RelayHarness h;
  std::string via = "socks5://127.0.0.1:" + std::to_string(ms.port);
  ASSERT_TRUE(h.start(via)) << h.error();
  bulk_round_trip(h, echo, via, false);
  // microsocks logs each CONNECT it makes ("client[N] 127.0.0.1: connected to HOST:PORT").
  std::string want = "connected to 127.0.0.1:" + std::to_string(echo.port());
  EXPECT_TRUE(has(wait_for_text(ms.log(), want), want)) << read_file(ms.log());
}

TEST(ProxyRelay, Socks5SendsTheNameWhenItIsKnown) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  {  // microsocks resolves the name it is sent: a bare root without /etc/hosts cannot
    addrinfo* res = nullptr;
    if (getaddrinfo("localhost", nullptr, nullptr, &res) != 0) GTEST_SKIP() << "\"localhost\" does not resolve here";
    freeaddrinfo(res);
  }
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  RelayHarness h;
  ASSERT_TRUE(h.start("socks5h://127.0.0.1:" + std::to_string(ms.port))) << h.error();
  UniqueFd c = h.dial(echo.destination("127.0.0.1", "localhost"));
  EXPECT_EQ(ping(c.get()), "ping");
  std::string want = "connected to localhost:" + std::to_string(echo.port());
  EXPECT_TRUE(has(wait_for_text(ms.log(), want), want)) << "microsocks was not asked for the name:\n"
                                                        << read_file(ms.log());
}

TEST(ProxyRelay, Ipv6ClientsAndDestinations) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  for (std::string via : {std::string("direct"), "socks5://127.0.0.1:" + std::to_string(ms.port)}) {
    RelayHarness h;
    ASSERT_TRUE(h.start(via, 1000ms, 100000, "::1")) << h.error();
    UniqueFd c = h.dial(echo.destination("::1"));
    ASSERT_TRUE(c) << strerror(errno);
    EXPECT_EQ(ping(c.get()), "ping") << via;
    c.reset();
    auto recs = h.records(1);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].result, "ok") << via;
    EXPECT_EQ(proxy::format_address(recs[0].dst.addr), "[::1]:" + std::to_string(echo.port()));
  }
  std::string want = "connected to ::1:" + std::to_string(echo.port());
  EXPECT_TRUE(has(wait_for_text(ms.log(), want), want)) << read_file(ms.log());
}

TEST(ProxyRelay, Socks5ThroughDante) {
  REQUIRE_BINARY("/usr/sbin/danted");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon d;
  std::string err;
  ASSERT_TRUE(start_danted(d, err)) << err;
  RelayHarness h;
  std::string via = "socks5h://127.0.0.1:" + std::to_string(d.port);
  ASSERT_TRUE(h.start(via)) << h.error();
  bulk_round_trip(h, echo, via, true);
  // Dante's own accounting, at the session's end: "tcp/connect ]: UP -> ... -> DOWN, DOWN -> ... -> UP".
  std::string log = wait_for_text(d.dir.path + "/danted.log", "tcp/connect ]");
  std::string sizes = "]: " + std::to_string(kBulk) + " -> ";
  EXPECT_TRUE(has(log, "127.0.0.1." + std::to_string(echo.port()))) << log;
  EXPECT_TRUE(has(log, "tcp/connect " + sizes)) << "dante did not count " << kBulk << " bytes each way:\n" << log;
}

TEST(ProxyRelay, HttpConnectThroughTinyproxy) {
  REQUIRE_BINARY("/usr/bin/tinyproxy");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon tp;
  std::string err;
  ASSERT_TRUE(start_tinyproxy(tp, echo.port(), err)) << err;
  RelayHarness h;
  std::string via = "http://127.0.0.1:" + std::to_string(tp.port);
  ASSERT_TRUE(h.start(via)) << h.error();
  bulk_round_trip(h, echo, via, false);
  std::string want = "CONNECT 127.0.0.1:" + std::to_string(echo.port());
  std::string log = wait_for_text(tp.dir.path + "/tinyproxy.log", want);
  EXPECT_TRUE(has(log, want)) << log;
}

TEST(ProxyRelay, TinyproxyRefusingAPortFailsTheClientClearly) {
  REQUIRE_BINARY("/usr/bin/tinyproxy");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon tp;
  std::string err;
  ASSERT_TRUE(start_tinyproxy(tp, static_cast<uint16_t>(echo.port() ^ 1), err)) << err;  // not this port
  RelayHarness h;
  ASSERT_TRUE(h.start("http://127.0.0.1:" + std::to_string(tp.port))) << h.error();
  UniqueFd c = h.dial(echo.destination());
  Exchange x = receive(c.get(), 1);
  EXPECT_EQ(x.error, ECONNRESET) << "the client was not reset: " << strerror(x.error);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_TRUE(has(recs[0].result, "refused by upstream: HTTP 403")) << recs[0].result;
  EXPECT_EQ(echo.accepted(), 0);
}

TEST(ProxyRelay, BytesTheServerSendsFirstArriveThroughEachUpstream) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  REQUIRE_BINARY("/usr/bin/tinyproxy");
  const std::string banner = "220 server speaks first\r\n";
  EchoServer echo(banner);
  ASSERT_TRUE(echo.start());
  Daemon ms, tp;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  ASSERT_TRUE(start_tinyproxy(tp, echo.port(), err)) << err;
  for (std::string via : {std::string("direct"), "socks5://127.0.0.1:" + std::to_string(ms.port),
                          "http://127.0.0.1:" + std::to_string(tp.port)}) {
    RelayHarness h;
    ASSERT_TRUE(h.start(via)) << h.error();
    UniqueFd c = h.dial(echo.destination());
    Exchange x = receive(c.get(), banner.size());
    EXPECT_EQ(x.received, banner) << via;
  }
}

TEST(ProxyRelay, Socks5AuthGoodAndWrongCredentials) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err, "alice", "s3cret:@")) << err;
  {
    RelayHarness h;
    ASSERT_TRUE(h.start("socks5://alice:s3cret%3A%40@127.0.0.1:" + std::to_string(ms.port))) << h.error();
    UniqueFd c = h.dial(echo.destination());
    EXPECT_EQ(ping(c.get(), "hello"), "hello");
    c.reset();
    EXPECT_EQ(h.records(1).at(0).result, "ok");
  }
  RelayHarness h;
  std::string via = "socks5://alice:wrong@127.0.0.1:" + std::to_string(ms.port);
  ASSERT_TRUE(h.start(via)) << h.error();
  UniqueFd c = h.dial(echo.destination());
  Exchange x = receive(c.get(), 1);
  EXPECT_EQ(x.error, ECONNRESET) << "the client was not reset";
  EXPECT_LT(x.seconds, 1.0);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "refused by upstream: authentication failed: the proxy rejected user \"alice\"");
  EXPECT_EQ(h.relay().stats().failed, 1u);
  EXPECT_EQ(echo.accepted(), 1) << "only the good-credentials connection reached the server";
}

TEST(ProxyRelay, AStoppedUpstreamFailsTheClientAtOnce) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  RelayHarness h;
  ASSERT_TRUE(h.start("socks5://127.0.0.1:" + std::to_string(ms.port))) << h.error();
  ms.child.end();  // the upstream stops
  UniqueFd c = h.dial(echo.destination());
  Exchange x = exchange(c.get(), "GET / HTTP/1.0\r\n\r\n", 5s, false);
  EXPECT_EQ(x.error, ECONNRESET) << "the client's read did not fail with a reset";
  EXPECT_LT(x.seconds, 1.0);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result,
            "upstream unreachable: connecting to 127.0.0.1:" + std::to_string(ms.port) + ": Connection refused");
}

TEST(ProxyRelay, ASilentUpstreamFailsTheClientWithinTheTimeout) {
  // A listener that never accepts: the kernel completes the TCP handshake, and
  // then nothing answers the SOCKS5 greeting.
  auto silent = proxy::listen_tcp(loopback(0), 16);
  ASSERT_TRUE(silent);
  uint16_t port = proxy::address_port(*proxy::local_address(silent->get()));
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("socks5://127.0.0.1:" + std::to_string(port), 300ms)) << h.error();
  UniqueFd c = h.dial(echo.destination());
  Exchange x = receive(c.get(), 1);
  EXPECT_EQ(x.error, ECONNRESET);
  EXPECT_GT(x.seconds, 0.25);
  EXPECT_LT(x.seconds, 1.0);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "timeout: no SOCKS5 answer from 127.0.0.1:" + std::to_string(port) + " within 300 ms");
}

TEST(ProxyRelay, AConnectionTheLookupDoesNotKnowIsResetWithoutForwarding) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  UniqueFd c = h.dial(Destination{});  // not in the table: not redirected
  EXPECT_TRUE(was_reset(c));
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "not redirected");
  auto st = h.relay().stats();
  EXPECT_EQ(st.refused, 1u);
  EXPECT_EQ(st.forwarded, 0u);
  EXPECT_EQ(h.upstream_sockets(), 0) << "a socket was made for a connection that must not be forwarded";
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(echo.accepted(), 0);
}

// The harness records every connection with this process's pid, which is the
// relay's: as if each were one of the relay's own connects sent back to it.
TEST(ProxyRelay, TheRelaysOwnConnectSentBackToItIsRefusedAsALoop) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  h.own_pid = static_cast<uint32_t>(::getpid());
  ASSERT_TRUE(h.start("direct")) << h.error();
  UniqueFd c = h.dial(echo.destination());
  EXPECT_TRUE(was_reset(c)) << "the loop was not reset";
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_TRUE(has(recs[0].result, "loop: the relay's own connect was sent back to it")) << recs[0].result;
  EXPECT_EQ(h.loops.load(), 1);
  EXPECT_EQ(echo.accepted(), 0) << "the loop was dialled";
  EXPECT_EQ(h.upstream_sockets(), 0);
}

TEST(ProxyRelay, ADestinationThatIsTheRelayItselfIsRefused) {
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  UniqueFd c = h.dial(*proxy::make_destination("127.0.0.1", h.port()));
  EXPECT_TRUE(was_reset(c));
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "loop: the destination is the relay itself");
  EXPECT_EQ(h.relay().stats().accepted, 1u) << "the relay dialled itself";
}

TEST(ProxyRelay, AResetOnEitherSideEndsBoth) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  UniqueFd c = h.dial(echo.destination());
  ASSERT_EQ(ping(c.get()), "ping");
  proxy::close_with_reset(c);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "client reset");
  auto end = Clock::now() + 2s;
  while (echo.resets() == 0 && Clock::now() < end) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(echo.resets(), 1) << "the destination did not see the reset";
}

TEST(ProxyRelay, StoppingTheRelayResetsWhatIsOpenAndRecordsIt) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  UniqueFd c = h.dial(echo.destination());
  ASSERT_EQ(ping(c.get()), "ping");
  h.stop();
  EXPECT_TRUE(h.run_ok());
  EXPECT_EQ(receive(c.get(), 1).error, ECONNRESET);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "relay stopped");
  EXPECT_EQ(recs[0].bytes_up, 4u);
}


TEST(ProxyRelay, TwoThousandConcurrentConnectionsAllSucceed) {
  constexpr size_t kConns = 2000;
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  EXPECT_EQ(concurrent(h, echo, kConns, 60s), kConns);
  auto recs = h.records(kConns, 30s);
  ASSERT_EQ(recs.size(), kConns);
  size_t ok = 0;
  for (const auto& r : recs) ok += r.result == "ok";
  EXPECT_EQ(ok, kConns) << "first other result: " << [&] {
    for (const auto& r : recs)
      if (r.result != "ok") return r.result;
    return std::string();
  }();
  auto st = h.relay().stats();
  EXPECT_EQ(st.forwarded, kConns);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.active, 0u);
}

TEST(ProxyRelay, ConcurrentSocks5HandshakesThroughMicrosocks) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  constexpr size_t kConns = 500;
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  RelayHarness h;
  ASSERT_TRUE(h.start("socks5://127.0.0.1:" + std::to_string(ms.port), 5000ms)) << h.error();
  EXPECT_EQ(concurrent(h, echo, kConns, 60s), kConns);
  auto recs = h.records(kConns, 30s);
  size_t ok = 0;
  for (const auto& r : recs) ok += r.result == "ok";
  EXPECT_EQ(ok, kConns);
  EXPECT_EQ(echo.accepted(), static_cast<int>(kConns));
}

// The relay in a child whose fd limit is kLimit: it says so at start, and when
// the fds run out it resets the connections it cannot take, says so once, and
// does not spin.
TEST(ProxyRelay, OutOfFileDescriptorsIsReportedOnceAndDoesNotSpin) {
  constexpr rlim_t kLimit = 128;
  constexpr int kClients = 150;
  uint16_t dst_port = free_port();
  Child relay;
  ASSERT_TRUE(relay.start_fn(
      [dst_port] {
        rlimit r{kLimit, kLimit};
        if (::setrlimit(RLIMIT_NOFILE, &r) != 0) return 3;
        auto say = [](const std::string& s) { (void)!::write(1, s.data(), s.size()); };
        proxy::RelayOptions o;
        o.listen = {loopback(0)};
        o.upstream = *proxy::parse_upstream("direct");
        o.lookup = [dst_port](const sockaddr_storage&, const sockaddr_storage&) -> std::optional<Original> {
          return Original{*proxy::make_destination("127.0.0.1", dst_port), {}};
        };
        o.on_warning = [&say](const std::string& w) { say("warning: " + w + "\n"); };
        auto rl = Relay::create(std::move(o));
        if (!rl) return 4;
        say("port " + std::to_string(proxy::address_port(rl->bound().at(0))) + "\n");
        std::atomic<bool> never{false};
        (void)rl->run(never);  // until the test kills it
        return 0;
      },
      {.out = Stream::kPipe}));
  EchoServer echo;
  ASSERT_TRUE(echo.start(dst_port));
  std::string out;
  read_until(relay.pipe_fd(), out, Clock::now() + 10s,
             [](const std::string& b) { return has(b, "\n") && has(b, "port "); });
  size_t at = out.find("port ");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_TRUE(has(out, "warning: the open-file limit (128) leaves room for about 32 connections")) << out;
  uint16_t relay_port = static_cast<uint16_t>(std::stoi(out.substr(at + 5)));

  auto cpu_ticks = [&] {
    std::istringstream f(read_file("/proc/" + std::to_string(relay.pid()) + "/stat")
                             .substr(read_file("/proc/" + std::to_string(relay.pid()) + "/stat").rfind(')') + 2));
    std::string skip;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field < 14; ++field) f >> skip;
    f >> utime >> stime;
    return utime + stime;
  };
  auto before = cpu_ticks();
  std::vector<UniqueFd> clients;
  sockaddr_storage a = loopback(relay_port);
  for (int i = 0; i < kClients; ++i) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(sockaddr_in)), 0) << strerror(errno);
    clients.push_back(std::move(fd));
  }
  std::this_thread::sleep_for(1s);
  int working = 0, reset = 0;
  for (auto& c : clients) {
    std::string got = ping(c.get(), "x");
    if (got == "x")
      working++;
    else if (receive(c.get(), 1, 100ms).error == ECONNRESET || got.empty())
      reset++;
  }
  auto spent = cpu_ticks() - before;
  EXPECT_GT(working, 20) << "the relay took too few connections";
  EXPECT_GT(reset, 0) << "no connection was reset for lack of fds";
  EXPECT_EQ(working + reset, kClients);
  EXPECT_LT(spent, 50u) << "the relay used " << spent << " ticks in the overload second: it spins";
  read_until(relay.pipe_fd(), out, Clock::now() + 200ms);
  size_t reports = 0;
  for (size_t p = 0; (p = out.find("out of file descriptors", p)) != std::string::npos; ++p) reports++;
  EXPECT_EQ(reports, 1u) << out;
  EXPECT_TRUE(has(out, "new connections are reset until some close")) << out;
}

TEST(ProxyRelay, MaxConnectionsResetsTheOneTooMany) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct", 1000ms, 1)) << h.error();
  UniqueFd first = h.dial(echo.destination());
  ASSERT_EQ(ping(first.get(), "one"), "one");
  UniqueFd second = h.dial(echo.destination());
  EXPECT_TRUE(was_reset(second));
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "relay full: 1 connections");
  EXPECT_EQ(proxy::format_address(recs[0].dst.addr), "127.0.0.1:" + std::to_string(echo.port()))
      << "the record of a refused connection says where it was going";
}

}  // namespace
}  // namespace cgscope::testing
