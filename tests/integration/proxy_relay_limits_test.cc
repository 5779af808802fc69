// The relay's timeouts and limits: a destination that never answers the
// connect, an upstream that never answers its handshake, a connection that
// goes idle, the accept queue, and a burst of connects larger than it. All on
// loopback; the burst in a network namespace of its own, so that its drop
// counter is the test's alone.
#include <fstream>
#include <sstream>

#include "relay_harness.h"

namespace cgscope::testing {
namespace {

using namespace relay_harness;

// The relay's records as "result" strings, for messages.
std::string results(const std::vector<AccessRecord>& recs) {
  std::string out;
  for (const auto& r : recs) out += "[" + r.result + "] ";
  return out;
}

// A listener whose accept queue is full drops every SYN, as a dead host does
// not answer them: a connect to it waits for TCP's retries.
struct DeadHost {
  UniqueFd listener, filler;
  uint16_t port = 0;

  ::testing::AssertionResult start() {
    auto full = proxy::listen_tcp(loopback(0), 0);
    if (!full) return ::testing::AssertionFailure() << full.error().message;
    listener = std::move(*full);
    port = proxy::address_port(*proxy::local_address(listener.get()));
    filler.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage dead = loopback(port);
    if (::connect(filler.get(), reinterpret_cast<sockaddr*>(&dead), sizeof(sockaddr_in)) != 0)
      return ::testing::AssertionFailure() << "filling the accept queue: " << strerror(errno);
    // The premise: one more connect does not complete.
    UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ::connect(probe.get(), reinterpret_cast<sockaddr*>(&dead), sizeof(sockaddr_in));
    pollfd p{probe.get(), POLLOUT, 0};
    if (::poll(&p, 1, 200) != 0)
      return ::testing::AssertionFailure() << "a connect to a full accept queue completed: cannot play a dead host";
    return ::testing::AssertionSuccess();
  }
};

// The client `c` is reset between `lo` and `hi` seconds from now, and the
// relay's one record says `result`.
void expect_reset_in(RelayHarness& h, int c, double lo, double hi, const std::string& result) {
  Exchange x = receive(c, 1, 3s);
  EXPECT_EQ(x.error, ECONNRESET) << "the client was not reset: " << strerror(x.error);
  EXPECT_GT(x.seconds, lo);
  EXPECT_LT(x.seconds, hi) << "not reset within the limit";
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, result);
}

TEST(ProxyRelayLimits, ADeadDestinationIsResetWithinTheConnectTimeout) {
  DeadHost dead;
  ASSERT_TRUE(dead.start());
  uint16_t port = dead.port;
  RelayHarness h;
  ASSERT_TRUE(h.start("direct", 300ms)) << h.error();
  UniqueFd c = h.dial(*proxy::make_destination("127.0.0.1", port));
  ASSERT_TRUE(c);
  expect_reset_in(h, c.get(), 0.25, 1.5,
                  "timeout: no connection to 127.0.0.1:" + std::to_string(port) + " within 300 ms");
  EXPECT_EQ(h.relay().stats().failed, 1u);
  EXPECT_EQ(h.relay().stats().forwarded, 0u);
}

TEST(ProxyRelayLimits, TheDefaultsAreATenSecondConnectTimeoutAndNoIdleTimeout) {
  proxy::RelayOptions o;
  EXPECT_EQ(o.connect_timeout, 10000ms);
  EXPECT_EQ(o.upstream_connect_timeout, 1000ms);
  EXPECT_EQ(o.idle_timeout, 0ms);
}

TEST(ProxyRelayLimits, ADeadUpstreamFailsTheClientWithinASecondByDefault) {
  DeadHost dead;
  ASSERT_TRUE(dead.start());
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("socks5://127.0.0.1:" + std::to_string(dead.port), proxy::RelayOptions{}.connect_timeout))
      << h.error();
  UniqueFd c = h.dial(echo.destination());
  expect_reset_in(h, c.get(), 0.9, 1.5, "timeout: no connection to 127.0.0.1:" + std::to_string(dead.port) + " within 1 s");
}

// The echo server and a direct relay with `idle` as its idle timeout.
::testing::AssertionResult start_idle(EchoServer& echo, RelayHarness& h, std::chrono::milliseconds idle) {
  if (!echo.start()) return ::testing::AssertionFailure() << "the echo server did not start";
  h.idle_timeout = idle;
  if (!h.start("direct")) return ::testing::AssertionFailure() << h.error();
  return ::testing::AssertionSuccess();
}

TEST(ProxyRelayLimits, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
  EchoServer echo;
  RelayHarness h;
  ASSERT_TRUE(start_idle(echo, h, 300ms));
  UniqueFd c = h.dial(echo.destination());
  ASSERT_EQ(ping(c.get()), "ping");
  Exchange x = receive(c.get(), 1, 3s);
  EXPECT_TRUE(x.eof) << "no end of file after the idle timeout (error: " << strerror(x.error) << ")";
  EXPECT_EQ(x.error, 0) << "an idle connection is closed, not reset";
  EXPECT_GT(x.seconds, 0.2);
  EXPECT_LT(x.seconds, 1.5);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "idle timeout: no bytes either way for 300 ms");
  EXPECT_EQ(recs[0].bytes_up, 4u);
  EXPECT_EQ(recs[0].bytes_down, 4u);
  auto st = h.relay().stats();
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.active, 0u);
}

TEST(ProxyRelayLimits, TrafficKeepsAConnectionOpenPastTheIdleTimeout) {
  EchoServer echo;
  RelayHarness h;
  ASSERT_TRUE(start_idle(echo, h, 400ms));
  UniqueFd c = h.dial(echo.destination());
  auto end = Clock::now() + 1200ms;
  int pings = 0;
  while (Clock::now() < end) {
    ASSERT_EQ(ping(c.get(), "p" + std::to_string(pings)), "p" + std::to_string(pings)) << "after " << pings;
    pings++;
    std::this_thread::sleep_for(150ms);
  }
  EXPECT_TRUE(h.records(1, 0ms).empty()) << results(h.records(1, 0ms));
  // Once quiet, it goes.
  EXPECT_TRUE(receive(c.get(), 1, 3s).eof);
}

// The listen backlog the kernel reports for a listener (ss's Send-Q).
std::optional<long> listen_backlog(uint16_t port) {
  auto r = run({"ss", "-Hltn", "sport = :" + std::to_string(port)});
  std::istringstream in(r.output);
  std::string state;
  long recvq = 0, sendq = -1;
  if (r.code != 0 || !(in >> state >> recvq >> sendq) || state != "LISTEN") return std::nullopt;
  return sendq;
}

TEST(ProxyRelayLimits, TheAcceptQueueIsAsLongAsTheKernelAllows) {
  long somaxconn = 0;
  std::ifstream("/proc/sys/net/core/somaxconn") >> somaxconn;
  ASSERT_GT(somaxconn, 0);
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  auto backlog = listen_backlog(h.port());
  ASSERT_TRUE(backlog) << "ss did not show the relay's listener";
  EXPECT_EQ(*backlog, std::min(somaxconn, 65535L)) << "the relay asks for less than net.core.somaxconn";
}

// TcpExt ListenDrops of the calling thread's network namespace: connects
// dropped because an accept queue was full.
long listen_drops() {
  std::ifstream in("/proc/thread-self/net/netstat");
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value)
      if (name == "ListenDrops") return std::stol(value);
  }
  return -1;
}

TEST(ProxyRelayLimits, ABurstOfConnectsLongerThanTheAcceptQueueIsTakenWithoutDrops) {
  // Four fds a connection in this process (client, the relay's two, the echo
  // server's): 4500 fit the hard limit of 20000 that test machines have, and
  // outnumber the default accept queue (4096).
  constexpr size_t kBurst = 4500;
  ScopedNetns ns;
  ASSERT_TRUE(ns.create(unique_name("relay-burst"))) << ns.error();
  ASSERT_TRUE(ns.enter()) << ns.error();
  ASSERT_EQ(run({"ip", "-n", ns.name(), "link", "set", "lo", "up"}).code, 0);
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  long before = listen_drops();
  ASSERT_GE(before, 0) << "no TcpExt ListenDrops in /proc/thread-self/net/netstat";
  EXPECT_EQ(concurrent(h, echo, kBurst, 90s), kBurst);
  EXPECT_EQ(listen_drops() - before, 0) << "connects were dropped by a full accept queue";
  auto recs = h.records(kBurst, 30s);
  EXPECT_EQ(recs.size(), kBurst);
  EXPECT_EQ(h.relay().stats().failed, 0u);
}

}  // namespace
}  // namespace cgscope::testing
