// The UDP part of the flow tracker (flows_udp.cc): pairs from udp_peer events,
// their counts from a fake of the kernel's map, completed by udp_close, by
// idleness and by the end of the trace.
#include <map>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "trace/flow_graph.h"
#include "trace/flow_sink.h"
#include "trace/flows.h"

namespace cgscope::trace {
namespace {

IpAddress ip(const char* text) { return *rtnl::parse_ip(text); }
const Place kA{PlaceKind::container, std::string(64, 'a'), "docker"};
const Place kB{PlaceKind::container, std::string(64, 'b'), "docker"};
constexpr uint64_t kMs = 1000000;

// The kernel's udp_pairs, as the tracker reads it.
struct FakePairs {
  std::map<std::tuple<uint64_t, std::string, uint16_t>, UdpCounts> pairs;
  int taken = 0;
  UdpCounts& at(uint64_t cookie, const char* remote, uint16_t port) { return pairs[{cookie, remote, port}]; }
  UdpCountsOf fn() {
    return [this](uint64_t cookie, const IpAddress& remote, uint16_t port, bool take) -> std::optional<UdpCounts> {
      auto it = pairs.find({cookie, rtnl::format_ip(remote), port});
      if (it == pairs.end()) return std::nullopt;
      UdpCounts c = it->second;
      if (take) {
        pairs.erase(it);
        taken++;
      }
      return c;
    };
  }
};

UdpPeer peer(uint64_t ms, uint64_t cookie, bool sent_first, const char* local, uint16_t lport, const char* remote,
             uint16_t rport, Place place, uint32_t pid = 0, const char* comm = "") {
  UdpPeer p;
  p.wall_ns = ms * kMs;
  p.cookie = cookie;
  p.sent_first = sent_first;
  p.local = ip(local);
  p.local_port = lport;
  p.remote = ip(remote);
  p.remote_port = rport;
  p.netns = 77;
  p.by_task = pid != 0;
  p.pid = pid;
  p.comm = comm;
  p.place = place;
  return p;
}

UdpCounts counts(uint64_t sent, uint64_t sent_n, uint64_t recv, uint64_t recv_n, uint64_t last_ms,
                 std::optional<uint32_t> pid = std::nullopt, const char* comm = "") {
  return UdpCounts{sent, recv, sent_n, recv_n, last_ms * kMs, pid, comm};
}

TEST(UdpFlows, BothEndsOfAnExchangeAreOneFlowCompleteWhenTheClientCloses) {
  FakePairs k;
  FlowTracker t(nullptr, k.fn());
  std::vector<Flow> done;
  t.on_udp_peer(peer(10, 1, true, "198.18.9.1", 40000, "198.18.9.2", 53, kA, 100, "dig"));
  t.on_udp_peer(peer(11, 2, false, "198.18.9.2", 53, "198.18.9.1", 40000, kB));  // softirq: no task
  k.at(1, "198.18.9.2", 53) = counts(40, 1, 120, 1, 13, 100, "dig");
  k.at(2, "198.18.9.1", 40000) = counts(120, 1, 40, 1, 12, 200, "named");
  t.on_udp_close(1, 14 * kMs, done);
  ASSERT_EQ(done.size(), 1u) << "the server's socket serves on, but the exchange is over";
  const Flow& f = done[0];
  EXPECT_EQ(f.proto, FlowProto::udp);
  EXPECT_EQ(f.src.place, kA);
  EXPECT_EQ(f.src.pid, 100u);
  EXPECT_EQ(f.dst.place, kB);
  EXPECT_EQ(f.dst.pid, 200u) << "named by the sender of its reply";
  EXPECT_EQ(f.dst.comm, "named");
  EXPECT_EQ(f.dst.port, 53);
  EXPECT_EQ(f.bytes_sent, 40u);
  EXPECT_EQ(f.bytes_received, 120u);
  EXPECT_EQ(f.dgrams_sent, 1u);
  EXPECT_EQ(f.dgrams_received, 1u);
  EXPECT_EQ(f.start_ns, 10 * kMs);
  EXPECT_EQ(f.end_ns, 13 * kMs) << "the last datagram";
  EXPECT_EQ(f.state, kUdpClosed);
  EXPECT_TRUE(f.established) << "answered";
  EXPECT_TRUE(k.pairs.empty()) << "both pairs taken from the kernel";
  EXPECT_EQ(t.sockets(), 0u);
}

TEST(UdpFlows, AServerThatClosesFirstWaitsForItsClient) {
  FakePairs k;
  FlowTracker t(nullptr, k.fn());
  std::vector<Flow> done;
  t.on_udp_peer(peer(10, 1, true, "198.18.9.1", 40000, "198.18.9.2", 53, kA, 100, "c"));
  t.on_udp_peer(peer(11, 2, false, "198.18.9.2", 53, "198.18.9.1", 40000, kB));
  k.at(1, "198.18.9.2", 53) = counts(5, 1, 0, 0, 10, 100, "c");
  k.at(2, "198.18.9.1", 40000) = counts(0, 0, 5, 1, 11);
  t.on_udp_close(2, 20 * kMs, done);
  EXPECT_TRUE(done.empty());
  t.on_udp_close(1, 30 * kMs, done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0].established) << "no reply";
  EXPECT_EQ(done[0].bytes_sent, 5u);
  EXPECT_FALSE(done[0].dst.pid) << "the server never sent";
}

TEST(UdpFlows, AServerAloneIsTheDestinationOfEachClientPortWithBytesTurnedAround) {
  FakePairs k;
  FlowTracker t(nullptr, k.fn());
  std::vector<Flow> done;
  t.on_udp_peer(peer(10, 2, false, "198.18.9.2", 53, "203.0.113.7", 5000, kB));
  t.on_udp_peer(peer(12, 2, false, "198.18.9.2", 53, "203.0.113.8", 5001, kB));
  k.at(2, "203.0.113.7", 5000) = counts(300, 2, 60, 2, 15, 200, "named");
  k.at(2, "203.0.113.8", 5001) = counts(0, 0, 30, 1, 12);
  t.on_udp_close(2, 20 * kMs, done);
  ASSERT_EQ(done.size(), 2u);
  for (const Flow& f : done) {
    EXPECT_EQ(f.src.place.kind, PlaceKind::outside);
    EXPECT_EQ(f.dst.place, kB);
    EXPECT_EQ(f.dst.port, 53);
  }
  const Flow& a = done[0].src.port == 5000 ? done[0] : done[1];
  EXPECT_EQ(a.bytes_sent, 60u) << "what the client sent: the server's bytes received";
  EXPECT_EQ(a.bytes_received, 300u);
  EXPECT_EQ(a.dgrams_sent, 2u);
  EXPECT_EQ(a.dst.pid, 200u);
}

// Under -p (or with a socket older than the trace) a server's first datagram
// seen may be its reply, the query unseen: sent from a server's port to an
// ephemeral one, it does not make the server the client.
TEST(UdpFlows, AReplySeenFirstKeepsTheServerTheDestination) {
  FakePairs k;
  FlowTracker t(nullptr, k.fn());
  std::vector<Flow> done;
  t.on_udp_peer(peer(10, 2, true, "198.18.9.2", 53, "198.18.9.1", 40000, kB, 200, "named"));
  k.at(2, "198.18.9.1", 40000) = counts(120, 1, 0, 0, 10, 200, "named");
  t.on_udp_close(2, 20 * kMs, done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].src.port, 40000);
  EXPECT_FALSE(done[0].src.pid);
  EXPECT_EQ(done[0].dst.port, 53);
  EXPECT_EQ(done[0].dst.pid, 200u);
  EXPECT_EQ(done[0].bytes_received, 120u) << "the reply, back to the client";
  EXPECT_FALSE(done[0].seen_from_start) << "its beginning was not seen";

  t.on_udp_peer(peer(30, 3, true, "198.18.9.1", 123, "198.18.9.2", 123, kA, 100, "ntpd"));
  auto open = t.take_open(40 * kMs);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].src.pid, 100u) << "server port to server port: the sender dialled";
}

TEST(UdpFlows, IdlePairsAreCompleteAndTheKernelForgetsThem) {
  FakePairs k;
  FlowTracker t(nullptr, k.fn());
  std::vector<Flow> done;
  t.on_udp_peer(peer(10, 1, true, "198.18.9.1", 40000, "198.18.9.2", 53, kA, 100, "c"));
  t.on_udp_peer(peer(10, 3, true, "198.18.9.1", 40001, "198.18.9.2", 123, kA, 100, "c"));
  k.at(1, "198.18.9.2", 53) = counts(5, 1, 9, 1, 11);
  k.at(3, "198.18.9.2", 123) = counts(5, 1, 0, 0, 35000);
  t.take_idle(40000 * kMs, 30000 * kMs, done);
  ASSERT_EQ(done.size(), 1u) << "only the pair quiet for 30 s";
  EXPECT_EQ(done[0].dst.port, 53);
  EXPECT_EQ(done[0].state, kUdpIdle);
  EXPECT_EQ(k.pairs.size(), 1u);
  auto open = t.take_open(41000 * kMs);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_TRUE(open[0].open);
  EXPECT_EQ(open[0].end_ns, 35000 * kMs) << "a UDP flow ends at its last datagram";
  EXPECT_TRUE(k.pairs.empty());
}

TEST(UdpFlows, LoopbackPairsOfTwoNamespacesAreNotJoined) {
  FakePairs k;
  FlowTracker t(nullptr, k.fn());
  std::vector<Flow> done;
  UdpPeer c = peer(10, 1, true, "127.0.0.1", 40000, "127.0.0.1", 53, kA, 100, "c");
  UdpPeer s = peer(10, 2, false, "127.0.0.1", 53, "127.0.0.1", 40000, kB);
  s.netns = 78;
  t.on_udp_peer(c);
  t.on_udp_peer(s);
  auto open = t.take_open(20 * kMs);
  EXPECT_EQ(open.size(), 2u);
}

TEST(UdpFlows, OutputsSayUdpAndCountDatagrams) {
  Flow f;
  f.proto = FlowProto::udp;
  f.src = FlowEnd{kA, 100u, "dig", ip("198.18.9.1"), 40000};
  f.dst = FlowEnd{kB, std::nullopt, "", ip("198.18.9.2"), 53};
  f.bytes_sent = 40;
  f.bytes_received = 120;
  f.dgrams_sent = 1;
  f.dgrams_received = 2;
  f.state = kUdpClosed;
  f.established = true;
  std::string json;
  append_flow_json(json, f);
  auto j = nlohmann::json::parse(json);
  EXPECT_EQ(j["proto"], "udp");
  EXPECT_EQ(j["datagrams_sent"], 1);
  EXPECT_EQ(j["datagrams_received"], 2);
  EXPECT_EQ(j["state"], "CLOSE");
  std::string text;
  append_flow_text(text, f);
  EXPECT_NE(text.find(": udp, 40 B sent in 1 datagram, 120 B received in 2 datagrams"), std::string::npos) << text;
  EXPECT_NE(text.find(", CLOSE\n"), std::string::npos) << text;

  Flow tcp = f;
  tcp.proto = FlowProto::tcp;
  tcp.state = 7;
  std::string tj;
  append_flow_json(tj, tcp);
  auto t = nlohmann::json::parse(tj);
  EXPECT_EQ(t["proto"], "tcp");
  EXPECT_TRUE(t["datagrams_sent"].is_null());

  FlowGraph g = build_flow_graph({f, tcp});
  ASSERT_EQ(g.edges.size(), 2u) << "the same port over UDP and TCP: two edges";
  EXPECT_NE(render_dot(g).find("53/udp: 1 flow,"), std::string::npos) << render_dot(g);
}

}  // namespace
}  // namespace cgscope::trace
