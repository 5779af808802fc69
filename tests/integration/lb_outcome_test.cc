// What became of a balanced connect (issue 11): a connect that the chosen
// endpoint refuses is counted as failed, not only as balanced, so an operator
// sees a dead endpoint in status and metrics before any health check runs.
#include "lb_fixture.h"

using namespace cgscope;
using namespace cgscope::lbtest;

namespace {

// 127.0.0.2 serves; 127.0.0.3 has nothing listening, so its connects get a RST.
constexpr const char* kHalfDead =
    "services:\n  - name: web\n    addresses: [10.96.0.10]\n    ports: [{port: 80, target_port: 8080}]\n"
    "    endpoints: [{address: 127.0.0.2}, {address: 127.0.0.3}]\n"
    "  - name: blind\n    addresses: [10.96.0.11]\n    ports: [{port: 80, target_port: 8080}]\n"
    "    keep_original: false\n    endpoints: [{address: 127.0.0.2}, {address: 127.0.0.3}]\n";

}  // namespace

TEST_F(LbTest, ARefusedEndpointsConnectsAreCountedAsFailed) {
  serve("b2", "127.0.0.2", 8080);
  ASSERT_EQ(apply(kHalfDead), 0) << err_;
  constexpr int kConnects = 200;
  auto m = by_name(connects("10.96.0.10", 80, kConnects));
  // Both halves are there (binomial: missing one is a 2^-200 event).
  ASSERT_GT(m["b2"], 0) << ::testing::PrintToString(m);
  ASSERT_GT(m[fmt::format("errno {}", ECONNREFUSED)], 0) << ::testing::PrintToString(m);
  ASSERT_EQ(m["b2"] + m[fmt::format("errno {}", ECONNREFUSED)], kConnects) << ::testing::PrintToString(m);

  auto web = services_by_name().at("web");
  EXPECT_EQ(web["balanced"].get<int>(), kConnects) << web.dump();
  EXPECT_EQ(web["established"].get<int>(), m["b2"]) << web.dump();
  EXPECT_EQ(web["failed"].get<int>(), m[fmt::format("errno {}", ECONNREFUSED)]) << web.dump();
  EXPECT_EQ(web["refused"].get<int>(), 0) << web.dump();

  std::ostringstream o, e;
  ASSERT_EQ(lb::run_status(pin_dir_, false, o, e), 0) << e.str();
  EXPECT_NE(o.str().find(fmt::format("connects balanced {} (established {}, failed {}), refused 0 (no endpoint)\n",
                                     kConnects, m["b2"], m[fmt::format("errno {}", ECONNREFUSED)])),
            std::string::npos)
      << o.str();
}

TEST_F(LbTest, AServiceThatKeepsNoOriginalCountsNoOutcome) {
  // No record on the socket, so sockops cannot tell whose connect it was: the
  // outcome stays untracked and status says nothing about it.
  serve("b2", "127.0.0.2", 8080);
  ASSERT_EQ(apply(kHalfDead), 0) << err_;
  auto m = by_name(connects("10.96.0.11", 80, 40));
  auto blind = services_by_name().at("blind");
  EXPECT_EQ(blind["balanced"].get<int>(), 40) << blind.dump();
  EXPECT_EQ(blind["established"].get<int>(), 0) << blind.dump();
  EXPECT_EQ(blind["failed"].get<int>(), 0) << blind.dump();
  std::ostringstream o, e;
  ASSERT_EQ(lb::run_status(pin_dir_, false, o, e), 0) << e.str();
  EXPECT_NE(o.str().find("connects balanced 40, refused 0 (no endpoint)\n"), std::string::npos) << o.str();
}

TEST_F(LbTest, ASocketReusedForAnUnbalancedConnectOwesNoOutcome) {
  // connect(AF_UNSPEC) and a second connect elsewhere: the first connect's
  // outcome is counted once, the second (not to a service) not at all.
  serve("b2", "127.0.0.2", 8080);
  ASSERT_EQ(apply("services:\n  - name: web\n    addresses: [10.96.0.10]\n    ports: [{port: 80, target_port: 8080}]\n"
                  "    endpoints: [{address: 127.0.0.2}]\n"),
            0)
      << err_;
  std::string out = in_cgroup([] {
    Target svc = target("10.96.0.10", 80), direct = target("127.0.0.2", 8080);
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int a = ::connect(s, reinterpret_cast<const sockaddr*>(&svc.ss), svc.len);
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    int b = ::connect(s, &unspec, sizeof unspec);
    int c = ::connect(s, reinterpret_cast<const sockaddr*>(&direct.ss), direct.len);
    ::close(s);
    return fmt::format("{} {} {}", a, b, c);
  });
  EXPECT_EQ(out, "0 0 0");
  auto web = services_by_name().at("web");
  EXPECT_EQ(web["balanced"].get<int>(), 1) << web.dump();
  EXPECT_EQ(web["established"].get<int>(), 1) << web.dump();
  EXPECT_EQ(web["failed"].get<int>(), 0) << web.dump();
}
