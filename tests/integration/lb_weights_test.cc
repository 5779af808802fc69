// Endpoint weights (issue 11): a weight w fills w / gcd slots of its tier and
// the program picks a slot uniformly, so 10,000 connects split as the weights
// say; weight 0 takes none; a change of weights is one re-apply.
#include "lb_fixture.h"

using namespace cgscope;
using namespace cgscope::lbtest;

namespace {

std::string weighted(int w2, int w3, int w4) {
  return fmt::format(
      "services:\n  - name: web\n    addresses: [10.96.0.10]\n    ports: [{{port: 80, target_port: 8080}}]\n"
      "    endpoints:\n      - {{address: 127.0.0.2, weight: {}}}\n      - {{address: 127.0.0.3, weight: {}}}\n"
      "      - {{address: 127.0.0.4, weight: {}}}\n",
      w2, w3, w4);
}

}  // namespace

TEST_F(LbTest, WeightsSplitTenThousandConnects) {
  three_backends();
  ASSERT_EQ(apply(weighted(10, 30, 0)), 0) << err_;
  constexpr int kConnects = 10000;
  auto m = by_name(connects("10.96.0.10", 80, kConnects));
  // 1:3 with none to b4. Binomial sd at 10,000 is 0.43 points; the bound is 2 points.
  EXPECT_EQ(m["b4"], 0) << ::testing::PrintToString(m);
  EXPECT_EQ(m["b2"] + m["b3"], kConnects) << ::testing::PrintToString(m);
  EXPECT_NEAR(m["b2"] / double(kConnects), 0.25, 0.02) << ::testing::PrintToString(m);
  EXPECT_NEAR(m["b3"] / double(kConnects), 0.75, 0.02) << ::testing::PrintToString(m);
  std::ostringstream o, e;
  ASSERT_EQ(lb::run_status(pin_dir_, false, o, e), 0) << e.str();
  EXPECT_NE(o.str().find("tier 0: 127.0.0.2, 127.0.0.3 x3\n"), std::string::npos) << o.str();
  auto j = nlohmann::json::parse(status_json());
  EXPECT_EQ(j["services"][0]["tiers"][0][1]["slots"].get<int>(), 3) << j.dump(1);
  EXPECT_EQ(j["services"][0]["balanced"].get<uint64_t>(), uint64_t(kConnects));

  // Re-weighted in place: 2:1:1.
  ASSERT_EQ(apply(weighted(2, 1, 1)), 0) << err_;
  m = by_name(connects("10.96.0.10", 80, kConnects));
  EXPECT_NEAR(m["b2"] / double(kConnects), 0.50, 0.02) << ::testing::PrintToString(m);
  EXPECT_NEAR(m["b3"] / double(kConnects), 0.25, 0.02) << ::testing::PrintToString(m);
  EXPECT_NEAR(m["b4"] / double(kConnects), 0.25, 0.02) << ::testing::PrintToString(m);
  EXPECT_TRUE(holds_exactly(files_.back().path));

  // Every weight 0: the service has no endpoint to give, and refuses at once.
  ASSERT_EQ(apply(weighted(0, 0, 0)), 0) << err_;
  for (const Outcome& r : connects("10.96.0.10", 80, 3)) EXPECT_EQ(r.err, ECONNREFUSED);
}
