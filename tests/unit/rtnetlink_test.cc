// rtnetlink messages built and parsed without a socket: requests as the kernel
// reads them, replies (acks, refusals with extended acks, dumps) as it writes
// them; and the checks of a `proxy route` request (route_plan.h), which are as pure.
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>

#include <gtest/gtest.h>

#include "cgscope/abi/proxy_route.h"
#include "core/rtnetlink.h"
#include "proxy/route_plan.h"

namespace cgscope::rtnl {
namespace {

nlmsghdr header_of(const std::vector<uint8_t>& msg) {
  nlmsghdr h{};
  std::memcpy(&h, msg.data(), sizeof h);
  return h;
}

// A request read back as the kernel would see it in a dump: same layout.
Message as_message(const std::vector<uint8_t>& msg, uint16_t type) {
  nlmsghdr h = header_of(msg);
  return Message{type, h.nlmsg_flags, h.nlmsg_seq,
                 std::span<const uint8_t>(msg.data() + sizeof h, msg.size() - sizeof h)};
}

void append(std::vector<uint8_t>& out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
  out.resize((out.size() + 3) & ~size_t(3));
}

// An NLMSG_ERROR as the kernel sends it: the code, the request's header echoed
// (capped, as NETLINK_CAP_ACK asks), then the extended ack.
std::vector<uint8_t> error_reply(uint32_t seq, int err, const std::string& said) {
  std::vector<uint8_t> out(sizeof(nlmsghdr));
  nlmsgerr e{};
  e.error = err;
  e.msg.nlmsg_len = 64;  // the request's length; only its header is echoed
  e.msg.nlmsg_seq = seq;
  append(out, &e, sizeof e);
  if (!said.empty()) {
    rtattr a{};
    a.rta_type = NLMSGERR_ATTR_MSG;
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(said.size() + 1));
    append(out, &a, sizeof a);
    append(out, said.c_str(), said.size() + 1);
  }
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(out.size());
  h.nlmsg_type = NLMSG_ERROR;
  h.nlmsg_flags = NLM_F_CAPPED | (said.empty() ? 0 : NLM_F_ACK_TLVS);
  h.nlmsg_seq = seq;
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

std::vector<uint8_t> done_reply(uint32_t seq, int status) {
  std::vector<uint8_t> out(sizeof(nlmsghdr));
  append(out, &status, sizeof status);
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(out.size());
  h.nlmsg_type = NLMSG_DONE;
  h.nlmsg_flags = NLM_F_MULTI;
  h.nlmsg_seq = seq;
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

Result<ReplyState> read_all(const std::vector<uint8_t>& d, uint32_t seq, std::vector<Message>* seen = nullptr) {
  return read_reply(d, seq, [&](const Message& m) {
    if (seen) seen->push_back(m);
  });
}

TEST(Rtnetlink, ANewRuleAsksForAnAckAndRefusesADuplicate) {
  Rule r{AF_INET, 32765, 0x63730064, 0xffffffff, 100, CGS_ROUTE_PROTOCOL, FR_ACT_TO_TBL};
  auto msg = rule_request(RTM_NEWRULE, 7, r);
  nlmsghdr h = header_of(msg);
  EXPECT_EQ(h.nlmsg_len, msg.size());
  EXPECT_EQ(msg.size() % 4, 0u);
  EXPECT_EQ(h.nlmsg_type, RTM_NEWRULE);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  EXPECT_EQ(h.nlmsg_seq, 7u);
  fib_rule_hdr frh{};
  std::memcpy(&frh, msg.data() + sizeof h, sizeof frh);
  EXPECT_EQ(frh.family, AF_INET);
  EXPECT_EQ(frh.table, 100);
  EXPECT_EQ(frh.action, FR_ACT_TO_TBL);
  auto back = parse_rule(as_message(msg, RTM_NEWRULE));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->priority, 32765u);
  EXPECT_EQ(back->fwmark, 0x63730064u);
  EXPECT_EQ(back->fwmask, 0xffffffffu);
  EXPECT_EQ(back->table, 100u);
  EXPECT_EQ(back->protocol, CGS_ROUTE_PROTOCOL);
}

TEST(Rtnetlink, TablesAbove255TravelInTheAttributeOnly) {
  Rule r{AF_INET6, 100, 0x10, 0xffffffff, 70000, 0, FR_ACT_TO_TBL};
  auto msg = rule_request(RTM_DELRULE, 1, r);
  EXPECT_EQ(header_of(msg).nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK) << "a delete creates nothing";
  fib_rule_hdr frh{};
  std::memcpy(&frh, msg.data() + sizeof(nlmsghdr), sizeof frh);
  EXPECT_EQ(frh.table, RT_TABLE_UNSPEC);
  auto back = parse_rule(as_message(msg, RTM_NEWRULE));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->table, 70000u);
  EXPECT_EQ(back->family, AF_INET6);
}

TEST(Rtnetlink, RoutesRoundTripInBothFamilies) {
  for (const char* gw : {"198.18.0.6", "2001:db8::6"}) {
    Route r;
    r.gateway = parse_ip(gw);
    ASSERT_TRUE(r.gateway) << gw;
    r.family = r.gateway->family;
    r.table = 4100;
    r.oif = 12;
    r.protocol = CGS_ROUTE_PROTOCOL;
    r.type = RTN_UNICAST;
    auto msg = route_request(RTM_NEWROUTE, 3, r);
    EXPECT_EQ(header_of(msg).nlmsg_len, msg.size());
    auto back = parse_route(as_message(msg, RTM_NEWROUTE));
    ASSERT_TRUE(back) << gw;
    EXPECT_EQ(back->family, r.family);
    EXPECT_EQ(back->dst_len, 0) << "the default route";
    ASSERT_TRUE(back->gateway);
    EXPECT_EQ(format_ip(*back->gateway), gw);
    EXPECT_EQ(back->table, 4100u);
    EXPECT_EQ(back->oif, 12u);
    EXPECT_EQ(back->protocol, CGS_ROUTE_PROTOCOL);
    EXPECT_EQ(back->metric, 0u) << "no metric asked: none sent";
  }
}

TEST(Rtnetlink, AnUnreachableGuardKeepsItsMetricAndType) {
  Route r;
  r.family = AF_INET6;
  r.table = 4100;
  r.metric = 0xffffffff;
  r.type = RTN_UNREACHABLE;
  auto back = parse_route(as_message(route_request(RTM_NEWROUTE, 4, r), RTM_NEWROUTE));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->metric, 0xffffffffu);
  EXPECT_EQ(back->type, RTN_UNREACHABLE);
  EXPECT_FALSE(back->gateway);
}

TEST(Rtnetlink, ADumpRequestNamesTheFamily) {
  auto msg = dump_request(RTM_GETROUTE, AF_UNSPEC, 9);
  nlmsghdr h = header_of(msg);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(h.nlmsg_len, sizeof(nlmsghdr) + sizeof(rtmsg));
}

TEST(Rtnetlink, AnAckEndsTheReply) {
  auto st = read_all(error_reply(5, 0, ""), 5);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(*st, ReplyState::done);
}

TEST(Rtnetlink, ARefusalCarriesTheKernelsSentenceAndErrno) {
  auto st = read_all(error_reply(5, -ENETUNREACH, "Nexthop has invalid gateway"), 5);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ENETUNREACH);
  EXPECT_EQ(st.error().message, "Nexthop has invalid gateway (Network is unreachable)");
  auto bare = read_all(error_reply(5, -EEXIST, ""), 5);
  ASSERT_FALSE(bare);
  EXPECT_EQ(bare.error().message, std::strerror(EEXIST));
}

TEST(Rtnetlink, MessagesOfOtherRequestsAreSkipped) {
  auto d = error_reply(4, -EPERM, "not ours");
  auto ours = done_reply(5, 0);
  d.insert(d.end(), ours.begin(), ours.end());
  auto st = read_all(d, 5);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(*st, ReplyState::done);
}

TEST(Rtnetlink, ADumpDeliversItsMessagesUntilDone) {
  Rule r{AF_INET, 10, 0, 0, 100, 0, FR_ACT_TO_TBL};
  auto d = rule_request(RTM_NEWRULE, 5, r);  // the layout of a dumped rule
  std::vector<Message> seen;
  auto st = read_all(d, 5, &seen);
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, ReplyState::more) << "no DONE yet: the next datagram is read";
  ASSERT_EQ(seen.size(), 1u);
  auto failed = read_all(done_reply(5, -EINTR), 5);
  ASSERT_FALSE(failed) << "an interrupted dump is an error";
  EXPECT_EQ(failed.error().code, EINTR);
}

TEST(Rtnetlink, MalformedRepliesAreErrorsNotCrashes) {
  auto d = done_reply(5, 0);
  auto longer = d;
  uint32_t too_long = static_cast<uint32_t>(d.size() + 4);
  std::memcpy(longer.data(), &too_long, sizeof too_long);
  auto st = read_all(longer, 5);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, EBADMSG);
  std::vector<uint8_t> stub(d.begin(), d.begin() + 6);
  EXPECT_FALSE(read_all(stub, 5));
  EXPECT_FALSE(read_all(std::vector<uint8_t>(sizeof(nlmsghdr), 0), 5)) << "nlmsg_len 0";
}

TEST(Rtnetlink, RoutesWithBadAttributesOrOtherFamiliesAreNotParsed) {
  Route r;
  r.family = AF_INET;
  r.gateway = parse_ip("2001:db8::1");  // 16 bytes where an IPv4 route has 4
  auto msg = route_request(RTM_NEWROUTE, 1, r);
  EXPECT_FALSE(parse_route(as_message(msg, RTM_NEWROUTE)));
  Route mpls;
  mpls.family = 28;  // AF_MPLS: dumped with AF_UNSPEC, not ours to read
  EXPECT_FALSE(parse_route(as_message(route_request(RTM_NEWROUTE, 1, mpls), RTM_NEWROUTE)));
  Route v4;
  v4.family = AF_INET;
  v4.dst_len = 33;
  EXPECT_FALSE(parse_route(as_message(route_request(RTM_NEWROUTE, 1, v4), RTM_NEWROUTE)));
  EXPECT_FALSE(parse_rule(as_message(msg, RTM_NEWROUTE))) << "a route is not a rule";
}

TEST(Rtnetlink, AddressesParseAndFormat) {
  EXPECT_EQ(format_ip(*parse_ip("10.0.0.1")), "10.0.0.1");
  EXPECT_EQ(format_ip(*parse_ip("2001:DB8::1")), "2001:db8::1");
  EXPECT_FALSE(parse_ip("10.0.0"));
  EXPECT_FALSE(parse_ip("gateway"));
  EXPECT_FALSE(parse_ip(""));
  EXPECT_EQ(format_ip(IpAddress{}), "(none)");
}

}  // namespace
}  // namespace cgscope::rtnl

namespace cgscope::proxy {
namespace {

uint32_t devices(const std::string& name) { return name == "eth1" ? 3 : 0; }

RouteRequest request(std::string table, std::string via, std::string dev = "", std::string mark = "") {
  RouteRequest r;
  r.cgroup = "/x";
  r.table = std::move(table);
  r.via = std::move(via);
  r.dev = std::move(dev);
  r.mark = std::move(mark);
  return r;
}

TEST(RoutePlan, TheDefaultMarkNamesTheTable) {
  auto p = make_route_plan(request("100", "192.168.1.1", "eth1"), devices);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->mark, 0x63730064u);
  EXPECT_EQ(p->table, 100u);
  EXPECT_EQ(p->ifindex, 3u);
  EXPECT_EQ(rtnl::format_ip(p->gateway), "192.168.1.1");
  auto hex = make_route_plan(request("100", "192.168.1.1", "", "0x1f"), devices);
  ASSERT_TRUE(hex) << hex.error().message;
  EXPECT_EQ(hex->mark, 0x1fu);
  EXPECT_EQ(hex->ifindex, 0u) << "no --dev: the kernel finds the device";
}

TEST(RoutePlan, LargeTablesNeedAMark) {
  auto p = make_route_plan(request("70000", "192.168.1.1"), devices);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("--mark"), std::string::npos) << p.error().message;
  EXPECT_TRUE(make_route_plan(request("70000", "192.168.1.1", "", "7"), devices));
}

TEST(RoutePlan, RefusalsSayWhatIsWrong) {
  struct Case {
    RouteRequest req;
    const char* says;
  } cases[] = {
      {request("254", "192.168.1.1"), "main table"},
      {request("255", "192.168.1.1"), "local table"},
      {request("0", "192.168.1.1"), "not a table number"},
      {request("ten", "192.168.1.1"), "not a table number"},
      {request("", "192.168.1.1"), "--table N"},
      {request("100", ""), "--via ADDRESS"},
      {request("100", "gw.example"), "not an IPv4 or IPv6 address"},
      {request("100", "0.0.0.0"), "unspecified"},
      {request("100", "fe80::1"), "link-local"},
      {request("100", "192.168.1.1", "eth9"), "no such network device"},
      {request("100", "192.168.1.1", "", "0"), "--mark"},
      {request("100", "192.168.1.1", "", "0x1ffffffff"), "--mark"},
  };
  for (const Case& c : cases) {
    auto p = make_route_plan(c.req, devices);
    ASSERT_FALSE(p) << c.says;
    EXPECT_NE(p.error().message.find(c.says), std::string::npos) << p.error().message;
  }
  EXPECT_TRUE(make_route_plan(request("100", "fe80::1", "eth1"), devices)) << "link-local with its device";
}

}  // namespace
}  // namespace cgscope::proxy
