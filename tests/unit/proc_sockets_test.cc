// The /proc/net/{tcp,udp}[6] parser and the server filter (proc_sockets.h), on
// lines as the kernel writes them; and the flow tracker naming an untraced
// destination by the listener found there.
#include <netinet/in.h>

#include <gtest/gtest.h>

#include "trace/flows.h"
#include "trace/proc_sockets.h"

namespace cgscope::trace {
namespace {

// Lines of this machine's files (a listener on 0.0.0.0:2024, an established
// connection, a v6 listener on [::1]:631, a bound UDP socket on 127.0.0.53:53).
constexpr std::string_view kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1074 1 "
    "000000001d7b6d21 100 0 0 10 0\n"
    "   1: 0100007F:1F90 0100007F:A2C4 01 00000000:00000000 00:00000000 00000000     0        0 55501 1 "
    "0000000000000000 20 4 30 10 -1\n"
    "   2: garbage\n";
constexpr std::string_view kTcp6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0\n";
constexpr std::string_view kUdp =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer "
    "drops\n"
    "  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 3333 2 "
    "0000000000000000 0\n"
    "  101: 0100007F:9C40 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 4444 2 "
    "0000000000000000 0\n";

TEST(ProcSockets, RowsAsTheKernelWritesThem) {
  auto rows = parse_proc_net_sockets(kTcp);
  ASSERT_EQ(rows.size(), 2u) << "header and garbage skipped";
  EXPECT_EQ(rtnl::format_ip(rows[0].local), "0.0.0.0");
  EXPECT_EQ(rows[0].port, 2024);
  EXPECT_EQ(rows[0].state, 10);
  EXPECT_EQ(rows[0].inode, 1074u);
  EXPECT_EQ(rtnl::format_ip(rows[1].local), "127.0.0.1");
  EXPECT_EQ(rows[1].port, 8080);
  EXPECT_EQ(rows[1].state, 1);

  auto v6 = parse_proc_net_sockets(kTcp6);
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].local.family, AF_INET6);
  EXPECT_EQ(rtnl::format_ip(v6[0].local), "::1");
  EXPECT_EQ(v6[0].port, 631);

  auto servers = servers_of(rows, false);
  ASSERT_EQ(servers.size(), 1u) << "the listener, not the connection";
  EXPECT_EQ(servers[0].inode, 1074u);
  auto udp = servers_of(parse_proc_net_sockets(kUdp), true);
  ASSERT_EQ(udp.size(), 1u) << "the bound socket, not the connected one";
  EXPECT_EQ(rtnl::format_ip(udp[0].local), "127.0.0.53");
  EXPECT_EQ(udp[0].port, 53);
}

TEST(ProcSockets, MalformedRowsAreSkippedNeverMisread) {
  for (std::string_view bad : {"   0: 0000000:07E8 00000000:0000 0A 0 0 0 0 0 1074\n",   // 7 hex digits
                               "   0: 00000000:07E8 00000000:0000 0A 0 0 0 0 0 10x4\n",  // inode
                               "   0: 00000000:7E8Z 00000000:0000 0A 0 0 0 0 0 1074\n",  // port
                               "   0: 00000000:07E8 00000000:0000 0A 0 0 0 0 0\n",       // short
                               "0: 00000000:07E8\n", "", ":\n"})
    EXPECT_TRUE(parse_proc_net_sockets(bad).empty()) << bad;
}

TEST(FlowTracker, AnUntracedDestinationIsNamedByItsListenerButNotALoopbackOne) {
  const Place kB{PlaceKind::container, std::string(64, 'b'), "docker"};
  FlowTracker t([&](const IpAddress&) -> std::optional<Place> { return kB; }, {},
                [](const IpAddress& a, uint16_t port, FlowProto proto) -> std::optional<ServerProcess> {
                  if (port == 8080 && proto == FlowProto::tcp) return ServerProcess{300, "nginx"};
                  (void)a;
                  return std::nullopt;
                });
  std::vector<Flow> done;
  auto at = [](uint64_t cookie, const char* remote, uint16_t rport, int from, int to) {
    TcpTransition x;
    x.cookie = cookie;
    x.local = *rtnl::parse_ip(std::string_view(remote).starts_with("127.") ? "127.0.0.1" : "198.18.9.1");
    x.local_port = 40000;
    x.remote = *rtnl::parse_ip(remote);
    x.remote_port = rport;
    x.old_state = from;
    x.new_state = to;
    x.by_task = true;
    x.pid = 100;
    x.comm = "client";
    return x;
  };
  t.on_transition(at(1, "198.18.9.2", 8080, 7, 2), done);
  t.on_transition(at(1, "198.18.9.2", 8080, 2, 7), done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].dst.pid, 300u);
  EXPECT_EQ(done[0].dst.comm, "nginx");
  EXPECT_EQ(done[0].src.pid, 100u) << "the traced end is its own";
  t.on_transition(at(2, "198.18.9.2", 9999, 7, 2), done);
  t.on_transition(at(2, "198.18.9.2", 9999, 2, 7), done);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_FALSE(done[1].dst.pid) << "no listener on that port";
  t.on_transition(at(3, "127.0.0.1", 8080, 7, 2), done);
  t.on_transition(at(3, "127.0.0.1", 8080, 2, 7), done);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_FALSE(done[2].dst.pid) << "loopback: which namespace's listener is not known here";
}

}  // namespace
}  // namespace cgscope::trace
