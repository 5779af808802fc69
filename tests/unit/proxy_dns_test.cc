// The DNS forwarder's pure parts: reading queries and replies (dns_message.h),
// the name cache, and the relay-address pick's route parsing (ns_relay.h).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "proxy/dns_message.h"
#include "proxy/name_cache.h"
#include "proxy/ns_relay.h"

namespace cgscope::proxy {
namespace {

using namespace std::string_literals;

// example.com A, id 0x1234, as a resolver sends it.
const std::string kQuery = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07" "example\x03" "com\x00\x00\x01\x00\x01"s;

// The reply: a CNAME to www.example.com (compressed), then its A, and an AAAA.
std::string reply() {
  std::string r = kQuery;
  r[2] = '\x81';
  r[3] = '\x80';
  r[7] = 3;
  r += "\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x06\x03www\xc0\x0c"s;      // CNAME
  r += "\xc0\x29\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\x5d\xb8\xd8\x22"s;     // A 93.184.216.34
  r += "\xc0\x29\x00\x1c\x00\x01\x00\x00\x01\x2c\x00\x10"s + std::string(15, '\0') + "\x01"s;  // AAAA ::1
  return r;
}

TEST(DnsMessage, TheQuestionOfAQuery) {
  auto q = parse_dns_question(kQuery);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->id, 0x1234);
  EXPECT_EQ(q->name, "example.com");
  EXPECT_EQ(q->type, 1);
}

TEST(DnsMessage, AnswersFollowCompressionAndCountForTheNameAsked) {
  auto a = parse_dns_answers(reply());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "example.com");
  ASSERT_EQ(a->addresses.size(), 2u);
  EXPECT_EQ(a->addresses[0].ip, "93.184.216.34");
  EXPECT_EQ(a->addresses[0].ttl, 300u);
  EXPECT_EQ(a->addresses[1].ip, "::1");
}

TEST(DnsMessage, AQueryIsNotAReplyAndCutMessagesAreRefused) {
  EXPECT_FALSE(parse_dns_answers(kQuery));
  std::string r = reply();
  for (size_t cut = 0; cut < r.size(); cut++) EXPECT_FALSE(parse_dns_answers(r.substr(0, cut))) << cut;
  EXPECT_FALSE(parse_dns_question(kQuery.substr(0, 15)));
}

TEST(DnsMessage, APointerLoopEnds) {
  std::string q = kQuery.substr(0, 12) + "\xc0\x0c\x00\x01\x00\x01"s;  // the name points at itself
  EXPECT_FALSE(parse_dns_question(q));
}

TEST(DnsMessage, OnlyPlainHostNamesAreHandedOn) {
  EXPECT_TRUE(plain_host_name("www.example-1.test"));
  EXPECT_TRUE(plain_host_name("_srv.example.test"));
  EXPECT_FALSE(plain_host_name("evil\r\nHost: x"));
  EXPECT_FALSE(plain_host_name("a b"));
  EXPECT_FALSE(plain_host_name(""));
  EXPECT_FALSE(plain_host_name(std::string(254, 'a')));
}

TEST(DnsMessage, TheUdpLimitIsTheOptSizeElse512AndACutReplyKeepsOnlyTheQuestion) {
  EXPECT_EQ(dns_udp_limit(kQuery), 512u);
  std::string edns = kQuery;
  edns[11] = 1;  // ARCOUNT 1: an OPT record for 1232 bytes
  edns += "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"s;
  EXPECT_EQ(dns_udp_limit(edns), 1232u);
  std::string cut = dns_truncated(reply());
  ASSERT_EQ(cut.size(), kQuery.size());
  EXPECT_TRUE(cut[2] & 0x02);
  EXPECT_EQ(cut[7], 0);
  auto q = parse_dns_question(cut);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->name, "example.com");
}

TEST(NameCache, RemembersForTheTtlButAtLeastAMinuteAndEvictsTheOldestWhenFull) {
  NameCache c(2);
  auto t0 = NameCache::Clock::now();
  c.remember(7, "10.0.0.1", "a.test", 5, t0);
  EXPECT_EQ(c.name_of(7, "10.0.0.1", t0 + std::chrono::seconds(59)), "a.test");
  EXPECT_FALSE(c.name_of(7, "10.0.0.1", t0 + std::chrono::seconds(61)));
  c.remember(7, "10.0.0.2", "b.test", 600, t0);
  c.remember(7, "10.0.0.3", "c.test", 600, t0);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_FALSE(c.name_of(7, "10.0.0.1", t0));
  EXPECT_EQ(c.name_of(7, "10.0.0.3", t0), "c.test");
}

TEST(NameCache, ANameIsGivenOnlyToTheClientThatLookedItUp) {
  NameCache c;
  auto t0 = NameCache::Clock::now();
  c.remember(1, "10.0.0.1", "a.test", 600, t0);
  EXPECT_EQ(c.name_of(1, "10.0.0.1", t0), "a.test");
  EXPECT_FALSE(c.name_of(2, "10.0.0.1", t0)) << "client 2 never looked 10.0.0.1 up";
  // Each client keeps its own name for one address, and its own lifetime.
  c.remember(2, "10.0.0.1", "b.test", 60, t0);
  EXPECT_EQ(c.name_of(1, "10.0.0.1", t0), "a.test");
  EXPECT_EQ(c.name_of(2, "10.0.0.1", t0), "b.test");
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.name_of(1, "10.0.0.1", t0 + std::chrono::seconds(120)), "a.test");
  EXPECT_FALSE(c.name_of(2, "10.0.0.1", t0 + std::chrono::seconds(120)));
}

uint32_t ip(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a.s_addr;
}

TEST(NsRelay, TheDefaultGatewayOnTheHostIsPickedElseAHostRoute) {
  // As /proc/PID/net/route prints them (little-endian hex of network-order values).
  std::string text =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
      "veth0\t016312C6\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n"
      "garbage line\n";
  auto routes = parse_proc_route(text);
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].gateway, ip("172.17.0.1"));
  EXPECT_EQ(route_to_host(routes, {ip("172.17.0.1"), ip("198.18.99.1")}), ip("172.17.0.1"));
  EXPECT_EQ(route_to_host(routes, {ip("198.18.99.1")}), ip("198.18.99.1"));
  EXPECT_FALSE(route_to_host(routes, {ip("192.0.2.10")}));
}

}  // namespace
}  // namespace cgscope::proxy
