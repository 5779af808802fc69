// The udp_peer and udp_close events as a stream shows them, with --comm naming
// one thread: a socket closed by a thread of another name is reported without a
// task (context softirq), never as that thread's; one closed by the named
// thread names it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "trace_files_fixture.h"

namespace cgscope::testing {
namespace {

// A datagram from `tx` to `rx` and its answer (both sockets its own, on
// loopback); another thread closes tx, the main thread rx. Returns 0, or the
// step that failed.
int send_and_close_from_two_threads() {
  ::prctl(PR_SET_NAME, "udp-main");
  int rx = ::socket(AF_INET, SOCK_DGRAM, 0), tx = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (rx < 0 || tx < 0 || ::bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(rx, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 10;
  if (::sendto(tx, "ping", 4, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) != 4) return 11;
  // Under --comm a socket counts from its first send: rx answers, and so has a pair.
  char buf[8];
  sockaddr_in from{};
  socklen_t from_len = sizeof from;
  if (::recvfrom(rx, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len) != 4) return 12;
  if (::sendto(rx, "pong", 4, 0, reinterpret_cast<sockaddr*>(&from), from_len) != 4 || ::recv(tx, buf, sizeof buf, 0) != 4)
    return 14;
  int closed = -1;
  std::thread other([&] {
    ::prctl(PR_SET_NAME, "udp-other");
    closed = ::close(tx);
  });
  other.join();
  if (closed != 0 || ::close(rx) != 0) return 13;
  ::usleep(200 * 1000);
  return 0;
}

TEST(TraceUdpEvents, AReleaseByAThreadTheFiltersLeaveOutNamesNoTask) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  int status = -1;
  TraceRun run = trace_in_container(ct, "udp_peer,udp_close", send_and_close_from_two_threads, status,
                                    {"--comm", "udp-main"});
  ASSERT_EQ(status, 0) << "the program failed at step " << status;
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto peers = run.named("udp_peer");
  auto closes = run.named("udp_close");
  ASSERT_EQ(peers.size(), 2u) << run.stderr_text << "\n" << nlohmann::json(run.events).dump();
  ASSERT_EQ(closes.size(), 2u) << nlohmann::json(run.events).dump();
  uint64_t tx = 0, rx = 0;
  // The first of each socket's pairs is its send, by udp-main, in time order: tx's, then rx's answer.
  for (const auto& p : peers) {
    EXPECT_EQ(p["args"]["dir"], "send") << p.dump();
    EXPECT_EQ(p["comm"], "udp-main") << p.dump();
    EXPECT_EQ(p["args"]["context"], "task");
    EXPECT_EQ(p["args"]["bytes"], 4);
  }
  tx = peers[0]["args"]["sock"];
  rx = peers[1]["args"]["sock"];
  ASSERT_NE(tx, 0u);
  ASSERT_NE(rx, 0u);
  for (const auto& c : closes) {
    if (c["args"]["sock"] == tx) {
      EXPECT_EQ(c["args"]["context"], "softirq") << "closed by udp-other, which --comm leaves out: " << c.dump();
      EXPECT_EQ(c["pid"], 0) << c.dump();
    } else {
      EXPECT_EQ(c["args"]["sock"], rx) << c.dump();
      EXPECT_EQ(c["args"]["context"], "task") << c.dump();
      EXPECT_EQ(c["comm"], "udp-main") << c.dump();
    }
  }
}

}  // namespace
}  // namespace cgscope::testing
