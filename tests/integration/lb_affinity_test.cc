// Session affinity (issue 11): `affinity: client_ip` keeps a client (its
// network namespace) on one endpoint while that is still an endpoint and the
// client comes back within the timeout.
#include "lb_fixture.h"

using namespace cgscope;
using namespace cgscope::lbtest;

namespace {

std::string sticky(const std::string& endpoints, const std::string& more = "") {
  return "services:\n  - name: web\n    addresses: [10.96.0.10]\n    ports: [{port: 80, target_port: 8080}]\n"
         "    affinity: client_ip\n" + more + "    endpoints: [" + endpoints + "]\n";
}

}  // namespace

TEST_F(LbTest, AffinityKeepsAClientOnOneBackend) {
  three_backends();
  ASSERT_EQ(apply(sticky("{address: 127.0.0.2}, {address: 127.0.0.3}, {address: 127.0.0.4}")), 0) << err_;
  auto m = by_name(connects("10.96.0.10", 80, 300));
  ASSERT_EQ(m.size(), 1u) << ::testing::PrintToString(m);
  const std::string first = m.begin()->first;
  EXPECT_EQ(m[first], 300);
  std::ostringstream o, e;
  ASSERT_EQ(lb::run_status(pin_dir_, false, o, e), 0);
  EXPECT_NE(o.str().find("affinity client_ip 10800 s"), std::string::npos) << o.str();

  // Its backend leaves the service: the client moves to another, and stays there.
  std::string rest;
  for (const char* b : {"2", "3", "4"})
    if (first != std::string("b") + b) rest += std::string(rest.empty() ? "" : ", ") + "{address: 127.0.0." + b + "}";
  ASSERT_EQ(apply(sticky(rest)), 0) << err_;
  m = by_name(connects("10.96.0.10", 80, 200));
  ASSERT_EQ(m.size(), 1u) << ::testing::PrintToString(m);
  EXPECT_NE(m.begin()->first, first);
  EXPECT_EQ(m.begin()->second, 200);
}

TEST_F(LbTest, AffinityEndsAfterItsTimeout) {
  three_backends();
  ASSERT_EQ(apply(sticky("{address: 127.0.0.2}, {address: 127.0.0.3}, {address: 127.0.0.4}",
                         "    affinity_timeout: 1\n")),
            0)
      << err_;
  std::set<std::string> picked;
  for (int round = 0; round < 8; round++) {
    if (round) std::this_thread::sleep_for(1100ms);  // past the timeout: a fresh pick
    auto m = by_name(connects("10.96.0.10", 80, 5));
    ASSERT_EQ(m.size(), 1u) << "round " << round << ": " << ::testing::PrintToString(m);  // sticky within it
    picked.insert(m.begin()->first);
  }
  // Eight fresh uniform picks of three all alike: (1/3)^7, 1 in 2,187.
  EXPECT_GT(picked.size(), 1u);
}
