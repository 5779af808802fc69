// --no-relay: a closed connection's kernel record as an access record.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

#include "proxy/flow_watch.h"

namespace cgscope::proxy {
namespace {

cgs_proxy_flow sample() {
  cgs_proxy_flow f{};
  f.who.cgroup_id = 44;
  f.who.pid = 4852;
  std::memcpy(f.who.comm, "curl", 5);
  f.dst.a[2] = htonl(0xffff);
  inet_pton(AF_INET, "198.18.1.2", &f.dst.a[3]);
  f.dst_port = htons(8080);
  f.start_ns = 5'000'000'000ULL;
  f.end_ns = 5'250'000'000ULL;
  f.bytes_acked = 87;
  f.bytes_received = 1048770;
  f.old_state = 1;  // ESTABLISHED (a reset) or a FIN state: the watch says which
  f.watch = CGS_PROXY_WATCH | CGS_PROXY_WATCH_ESTABLISHED;
  return f;
}

TEST(ProxyFlowRecord, AClosedConnectionCarriesWhoWhereBytesAndTimes) {
  auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  AccessRecord r = flow_record(sample(), 6'000'000'000ULL, wall);
  EXPECT_EQ(r.meta.cgroup_id, 44u);
  EXPECT_EQ(r.meta.pid, 4852u);
  EXPECT_EQ(r.meta.comm, "curl");
  EXPECT_EQ(format_destination(r.dst), "198.18.1.2:8080");
  EXPECT_EQ(r.upstream, "direct");
  EXPECT_EQ(r.bytes_up, 87u);
  EXPECT_EQ(r.bytes_down, 1048770u);
  EXPECT_DOUBLE_EQ(r.seconds, 0.25);
  // Started 1 s before "now" on the monotonic clock: 1 s before wall.
  EXPECT_EQ(r.started, wall - std::chrono::seconds(1));
  EXPECT_EQ(r.result, "ok");
}

TEST(ProxyFlowRecord, ResultsSayHowItEnded) {
  auto wall = std::chrono::system_clock::now();
  cgs_proxy_flow f = sample();
  f.err = ECONNRESET;
  EXPECT_EQ(flow_record(f, f.end_ns, wall).result, "reset: Connection reset by peer");
  f.watch = CGS_PROXY_WATCH;  // never established
  f.err = ECONNREFUSED;
  EXPECT_EQ(flow_record(f, f.end_ns, wall).result, "destination unreachable: Connection refused");
  f.err = ETIMEDOUT;
  EXPECT_EQ(flow_record(f, f.end_ns, wall).result, "destination unreachable: Connection timed out");
  f.err = 0;
  f.old_state = 2;  // SYN_SENT: the program closed first
  EXPECT_EQ(flow_record(f, f.end_ns, wall).result, "closed while connecting");
}

TEST(ProxyFlowRecord, ClocksOutOfOrderNeverGoNegativeAndIPv6Stays) {
  cgs_proxy_flow f = sample();
  f.end_ns = f.start_ns - 10;  // cannot happen; never a negative duration
  inet_pton(AF_INET6, "2001:db8::7", f.dst.a);
  auto wall = std::chrono::system_clock::now();
  AccessRecord r = flow_record(f, f.start_ns - 5, wall);
  EXPECT_EQ(r.seconds, 0.0);
  EXPECT_EQ(r.started, wall);
  EXPECT_EQ(format_destination(r.dst), "[2001:db8::7]:8080");
}

TEST(ProxyOpenRecord, AConnectionOpenAtStopHasItsDurationSoFarAndNoByteCounts) {
  cgs_proxy_flow f = sample();
  f.end_ns = 0;
  f.bytes_acked = f.bytes_received = 0;  // proxy_open holds none: the kernel gives them at close
  f.err = 0;
  auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  AccessRecord r = open_record(f, 7'000'000'000ULL, wall);
  EXPECT_EQ(r.result, "open at stop");
  EXPECT_DOUBLE_EQ(r.seconds, 2.0);
  EXPECT_FALSE(r.bytes_known);
  EXPECT_EQ(format_destination(r.dst), "198.18.1.2:8080");
  auto j = format_access_json(r);
  EXPECT_TRUE(j["bytes_up"].is_null() && j["bytes_down"].is_null()) << j.dump();
  EXPECT_NE(format_access_text(r).find(": open at stop, bytes not known, 2.000 s"), std::string::npos)
      << format_access_text(r);
}

TEST(ProxyOpenRecord, TheStateNowSaysWhereItWas) {
  auto wall = std::chrono::system_clock::now();
  cgs_proxy_flow f = sample();
  const std::pair<uint16_t, const char*> cases[] = {
      {1, "open at stop"},       // ESTABLISHED
      {8, "open at stop"},       // CLOSE_WAIT: the destination closed its side, the program has not
      {2, "connecting at stop"}, // SYN_SENT
      {4, "closing at stop"},    // FIN_WAIT1
      {5, "closing at stop"},    // FIN_WAIT2
      {9, "closing at stop"},    // LAST_ACK
  };
  for (auto [state, want] : cases) {
    f.old_state = state;
    EXPECT_EQ(open_record(f, f.start_ns + 1, wall).result, want) << state;
  }
}

}  // namespace
}  // namespace cgscope::proxy
