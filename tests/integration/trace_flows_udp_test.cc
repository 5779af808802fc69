// cgscope trace --flows over UDP, end to end: the two "containers" of
// flows_fixture.h; a UDP server in B answers each of a client's datagrams in A
// with a reply of another size, and the client sends one more datagram to a
// port of B where nothing listens. The flows name both ends with the exact
// payload bytes and datagram counts each way; the unanswered one says so; an
// exchange out of scope is not reported.
#include <poll.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "flows_fixture.h"

namespace cgscope::testing {
namespace {

constexpr uint16_t kUdpPort = 5353, kDeadPort = 5354;
constexpr size_t kQueries = 5;
size_t query_size(size_t i) { return 30 + 7 * i; }
size_t reply_size(size_t i) { return 200 + 11 * i; }

// Whether process `pid` has a UDP socket bound to `port` in its network
// namespace (/proc/PID/net/udp: local address "IP:PORT" in hex).
bool bound_udp(pid_t pid, uint16_t port) {
  std::ifstream in(fmt::format("/proc/{}/net/udp", pid));
  std::string want = fmt::format(":{:04X}", port);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string sl, local;
    f >> sl >> local;
    if (local.size() > want.size() && local.ends_with(want)) return true;
  }
  return false;
}

// Answers kQueries datagrams, each with its reply, then closes.
int udp_serve(const std::string& netns, const std::string& ip, const char* comm) {
  if (!enter(netns, comm)) return 10;
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = address(ip, kUdpPort);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 11;
  char buf[2048] = {};
  for (size_t i = 0; i < kQueries; i++) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 20000) != 1) return 12;
    ssize_t n = ::recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n != static_cast<ssize_t>(query_size(i))) return 13;
    if (::sendto(s, buf, reply_size(i), 0, reinterpret_cast<sockaddr*>(&from), len) != ssize_t(reply_size(i))) return 14;
  }
  ::close(s);
  return 0;
}

// One query at a time, each answered before the next; then a datagram nobody takes.
int udp_ask(const std::string& netns, const std::string& ip, const char* comm) {
  if (!enter(netns, comm)) return 20;
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to = address(ip, kUdpPort);
  char buf[2048] = {};
  for (size_t i = 0; i < kQueries; i++) {
    if (::sendto(s, buf, query_size(i), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) != ssize_t(query_size(i)))
      return 21;
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 20000) != 1) return 22;
    if (::recv(s, buf, sizeof buf, 0) != static_cast<ssize_t>(reply_size(i))) return 23;
  }
  ::close(s);
  int dead = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in nowhere = address(ip, kDeadPort);
  if (::sendto(dead, buf, 9, 0, reinterpret_cast<sockaddr*>(&nowhere), sizeof nowhere) != 9) return 24;
  ::usleep(100 * 1000);  // B's port-unreachable comes back; nothing is counted for it
  ::close(dead);
  return 0;
}

class TraceUdpFlows : public TraceFlows {
 protected:
  void exchange() {
    std::string nb = ns_b_.name(), na = ns_a_.name(), ib = ip_b_;
    Child server, client;
    ASSERT_TRUE(server.start_fn([nb, ib] { return udp_serve(nb, ib, "udp-server"); }, {.cgroup = cg_b_->path()}))
        << server.error();
    auto until = Clock::now() + 10s;
    while (!bound_udp(server.pid(), kUdpPort) && Clock::now() < until) usleep(10 * 1000);
    ASSERT_TRUE(bound_udp(server.pid(), kUdpPort)) << "the server did not bind";
    ASSERT_TRUE(client.start_fn([na, ib] { return udp_ask(na, ib, "udp-client"); }, {.cgroup = cg_a_->path()}))
        << client.error();
    server_pid_ = server.pid();
    client_pid_ = client.pid();
    EXPECT_EQ(exit_code(client.wait_for(30s)), 0) << "client";
    EXPECT_EQ(exit_code(server.wait_for(30s)), 0) << "server";
    // The same out of scope, on loopback.
    Child out_server, out_client;
    ASSERT_TRUE(out_server.start_fn([] { return udp_serve("", "127.0.0.1", "udp-outsider"); }, {.cgroup = other_->path()}));
    until = Clock::now() + 10s;
    while (!bound_udp(out_server.pid(), kUdpPort) && Clock::now() < until) usleep(10 * 1000);
    ASSERT_TRUE(out_client.start_fn([] { return udp_ask("", "127.0.0.1", "udp-outsider"); }, {.cgroup = other_->path()}));
    EXPECT_EQ(exit_code(out_client.wait_for(30s)), 0);
    EXPECT_EQ(exit_code(out_server.wait_for(30s)), 0);
  }

  pid_t server_pid_ = 0, client_pid_ = 0;
};

TEST_F(TraceUdpFlows, BothContainersAreNamedWithExactBytesAndDatagramsEachWay) {
  FlowsRun both({"-o", "json", "-c", rel(parent_)});
  FlowsRun only_a({"-o", "json", "--container", id_a_.substr(0, 12)});
  FlowsRun dot({"-o", "dot", "-c", rel(parent_)});
  for (FlowsRun* r : {&both, &only_a, &dot}) ASSERT_TRUE(r->ready()) << r->err();
  ASSERT_NO_FATAL_FAILURE(exchange());

  size_t up = 0, down = 0;
  for (size_t i = 0; i < kQueries; i++) {
    up += query_size(i);
    down += reply_size(i);
  }
  std::string out = both.finish();
  EXPECT_EQ(both.code(), 0) << both.err();
  auto flows = json_lines(out);
  ASSERT_EQ(flows.size(), 2u) << "the exchange and the unanswered datagram, nothing out of scope: " << out;
  const auto& f = flows[0]["dst"]["port"] == kUdpPort ? flows[0] : flows[1];
  const auto& dead = flows[0]["dst"]["port"] == kUdpPort ? flows[1] : flows[0];
  EXPECT_EQ(f["proto"], "udp") << f.dump();
  EXPECT_EQ(f["src"]["container_id"], id_a_);
  EXPECT_EQ(f["src"]["pid"], client_pid_);
  EXPECT_EQ(f["src"]["comm"], "udp-client");
  EXPECT_EQ(f["src"]["addr"], ip_a_);
  EXPECT_EQ(f["dst"]["container_id"], id_b_);
  EXPECT_EQ(f["dst"]["pid"], server_pid_) << "the server, named by its replies";
  EXPECT_EQ(f["dst"]["comm"], "udp-server");
  EXPECT_EQ(f["dst"]["addr"], ip_b_);
  EXPECT_EQ(f["bytes_sent"], up);
  EXPECT_EQ(f["bytes_received"], down);
  EXPECT_EQ(f["datagrams_sent"], kQueries);
  EXPECT_EQ(f["datagrams_received"], kQueries);
  EXPECT_EQ(f["state"], "CLOSE");
  EXPECT_EQ(f["established"], true);
  EXPECT_EQ(f["open"], false);

  EXPECT_EQ(dead["proto"], "udp") << dead.dump();
  EXPECT_EQ(dead["dst"]["port"], kDeadPort);
  EXPECT_EQ(dead["dst"]["container_id"], id_b_);
  EXPECT_TRUE(dead["dst"]["pid"].is_null()) << "nobody there";
  EXPECT_EQ(dead["bytes_sent"], 9);
  EXPECT_EQ(dead["datagrams_sent"], 1);
  EXPECT_EQ(dead["datagrams_received"], 0);
  EXPECT_EQ(dead["established"], false);

  // Only A traced: B is still named, from its namespace's addresses; its process
  // only if its bound socket was found in /proc while it was open.
  std::string a_out = only_a.finish();
  auto a_flows = json_lines(a_out);
  ASSERT_EQ(a_flows.size(), 2u) << only_a.err() << a_out;
  const auto& a = a_flows[0]["dst"]["port"] == kUdpPort ? a_flows[0] : a_flows[1];
  EXPECT_EQ(a["src"]["pid"], client_pid_);
  EXPECT_EQ(a["dst"]["container_id"], id_b_) << a.dump();
  EXPECT_TRUE(a["dst"]["pid"].is_null() || a["dst"]["pid"] == server_pid_) << a.dump();
  EXPECT_EQ(a["bytes_sent"], up);
  EXPECT_EQ(a["bytes_received"], down);

  TempPath dot_file("flows-udp-dot");
  std::string graph = dot.finish();
  std::ofstream(dot_file.path) << graph;
  auto svg = run({"dot", "-Tsvg", "-o", "/dev/null", dot_file.path});
  EXPECT_EQ(svg.code, 0) << svg.output << "\n" << graph;
  EXPECT_NE(graph.find("n0 -> n1 [label=\"5353/udp: 1 flow,"), std::string::npos) << graph;
}

}  // namespace
}  // namespace cgscope::testing
