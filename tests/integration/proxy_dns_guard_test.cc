// The DNS forwarder answers only the proxied cgroup: a query sent straight to
// its address by a process outside the cgroup, on this host or in another
// network namespace that reaches the relay address, gets no answer, while the
// cgroup's own queries (redirected by its hooks) are answered.
#include <bpf/bpf.h>

#include "cgscope/abi/proxy.h"
#include "proxy_dns_fixture.h"

namespace cgscope::testing {
namespace {

class ProxyDnsGuardTest : public ProxyDnsTest {
 protected:
  // The forwarder's port of slot 0, on the loopback (ns: the other namespaces')
  // address, from the proxy's pinned configuration.
  uint16_t forwarder_port(bool ns) const {
    UniqueFd map(bpf_obj_get(fmt::format("/sys/fs/bpf/cgscope/proxy-{}/proxy_config", cg_->id()).c_str()));
    cgs_proxy_config c{};
    uint32_t zero = 0;
    if (!map || bpf_map_lookup_elem(map.get(), &zero, &c) != 0) return 0;
    return ntohs(ns ? c.dns_ns_port[0] : c.dns_port[0]);
  }
};

TEST_F(ProxyDnsGuardTest, AQuerySentStraightToTheForwarderFromOutsideTheCgroupGetsNoAnswer) {
  attach({"--via", socks(), "--dns"});
  // The cgroup's query claims slot 0 for the nameserver.
  ASSERT_EQ(ask_from_cgroup(true).answer, peer_ip_);
  uint16_t port = forwarder_port(false);
  ASSERT_NE(port, 0);
  Asked outside = ask({.in_cgroup = false, .ip = "127.0.0.1", .port = port, .wait_s = 3});
  EXPECT_EQ(outside.answer, "error") << "answered " << outside.answer << " from " << outside.from;
  EXPECT_EQ(outside.from, std::to_string(EAGAIN)) << "no answer, not an error reply";
  // The cgroup is still answered, connected or not.
  EXPECT_EQ(ask_from_cgroup(true).answer, peer_ip_);
  EXPECT_EQ(ask_from_cgroup(false).answer, peer_ip_);
  std::string log = stop_and_log();
  EXPECT_NE(log.find("dns: 3 queries, 3 answered"), std::string::npos) << log;
  EXPECT_NE(log.find("1 not from the cgroup (unanswered)"), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

// With --relay-addr on the veth's host end, a process of the cgroup in the test
// host's namespace resolves through its hooks; a process there that is not in
// the cgroup, sending to the same address and port, gets nothing.
TEST_F(ProxyDnsGuardTest, AnotherNamespaceOnTheRelayAddressIsAnsweredOnlyForTheCgroupsProcesses) {
  attach({"--via", socks(), "--dns", "--relay-addr", host_ip_});
  Asked inside = ask({.in_netns = true});
  ASSERT_EQ(inside.answer, peer_ip_) << "from " << inside.from;
  EXPECT_EQ(inside.from, peer_ip_ + ":53");
  uint16_t port = forwarder_port(true);
  ASSERT_NE(port, 0);
  Asked outside = ask({.in_cgroup = false, .in_netns = true, .ip = host_ip_, .port = port, .wait_s = 3});
  EXPECT_EQ(outside.answer, "error") << "answered " << outside.answer << " from " << outside.from;
  EXPECT_EQ(outside.from, std::to_string(EAGAIN));
  EXPECT_EQ(ask({.connected = true, .in_netns = true}).answer, peer_ip_);
  std::string log = stop_and_log();
  EXPECT_NE(log.find("dns: 2 queries, 2 answered"), std::string::npos) << log;
  EXPECT_NE(log.find("1 not from the cgroup (unanswered)"), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

}  // namespace
}  // namespace cgscope::testing
