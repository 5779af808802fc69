// HealthChecker (lb/health.h) against a listener on loopback: an endpoint goes
// down after `fall` failed connects in a row and comes back after `rise` passed
// ones; down endpoints get weight 0; endpoints no longer listed are forgotten.
#include "lb/health.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "core/unique_fd.h"

using namespace cgscope;
using namespace cgscope::lb;
using namespace std::chrono_literals;

namespace {

// A listening socket on 127.0.0.1 at a port the kernel picks.
struct Listener {
  UniqueFd fd;
  uint16_t port = 0;
  Listener() { open(0); }
  void open(uint16_t want) {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(want);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd.get(), 64), 0);
    socklen_t len = sizeof a;
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
};

Config one_endpoint(uint16_t port) {
  Config c;
  Service s;
  s.name = "a";
  s.addresses = {*parse_addr("10.96.0.1")};
  s.ports = {{80, port}};
  Endpoint e;
  e.address = *parse_addr("127.0.0.1");
  s.endpoints = {e};
  c.services = {s};
  return c;
}

}  // namespace

TEST(LbHealth, FallAndRise) {
  Listener l;
  HealthChecker h({.interval = 1s, .timeout = 500ms, .fall = 2, .rise = 3});
  Config cfg = one_endpoint(l.port);
  h.track(cfg);
  EXPECT_TRUE(h.check_all().empty());
  l.fd.reset();  // nothing listens: connects are refused
  EXPECT_TRUE(h.check_all().empty());  // one failure is not yet down
  auto down = h.check_all();
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0], "endpoint 127.0.0.1:" + std::to_string(l.port) +
                         " is down (2 failed checks in a row): out of rotation");
  Config adjusted = cfg;
  h.adjust(adjusted);
  EXPECT_EQ(adjusted.services[0].endpoints[0].weight, 0u);
  l.open(l.port);
  EXPECT_TRUE(h.check_all().empty());
  EXPECT_TRUE(h.check_all().empty());
  auto up = h.check_all();
  ASSERT_EQ(up.size(), 1u);
  EXPECT_NE(up[0].find("is up again (3 passed checks in a row): back in rotation"), std::string::npos) << up[0];
  adjusted = cfg;
  h.adjust(adjusted);
  EXPECT_EQ(adjusted.services[0].endpoints[0].weight, 1u);
}

TEST(LbHealth, EndpointsNoLongerListedAreForgotten) {
  Listener l;
  HealthChecker h({.interval = 1s, .timeout = 500ms, .fall = 1, .rise = 1});
  Config cfg = one_endpoint(l.port);
  h.track(cfg);
  l.fd.reset();
  ASSERT_EQ(h.check_all().size(), 1u);  // down
  h.track(Config{});
  EXPECT_TRUE(h.check_all().empty());
  h.track(cfg);  // listed again: starts in rotation
  Config adjusted = cfg;
  h.adjust(adjusted);
  EXPECT_EQ(adjusted.services[0].endpoints[0].weight, 1u);
}
