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

namespace {

// The size the pinned lb_affinity map was made with (an LRU map is allocated
// whole, so this is its memory).
uint32_t affinity_entries(const std::string& pin_dir) {
  UniqueFd fd(bpf_obj_get((pin_dir + "/lb_affinity").c_str()));
  EXPECT_TRUE(fd) << "no lb_affinity pin in " << pin_dir;
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  EXPECT_EQ(bpf_obj_get_info_by_fd(fd.get(), &info, &len), 0);
  return info.max_entries;
}

}  // namespace

TEST_F(LbTest, TheAffinityMapIsFullSizeOnlyWhileAServiceAsksForIt) {
  three_backends();
  const std::string plain =
      "services:\n  - name: web\n    addresses: [10.96.0.10]\n    ports: [{port: 80, target_port: 8080}]\n"
      "    endpoints: [{address: 127.0.0.2}, {address: 127.0.0.3}, {address: 127.0.0.4}]\n";
  ASSERT_EQ(apply(plain), 0) << err_;
  EXPECT_EQ(affinity_entries(pin_dir_), 1u);

  // Asked for: grown (a new map in the pin's place), and affinity works at once.
  ASSERT_EQ(apply(sticky("{address: 127.0.0.2}, {address: 127.0.0.3}, {address: 127.0.0.4}")), 0) << err_;
  EXPECT_EQ(affinity_entries(pin_dir_), uint32_t(CGS_LB_MAX_AFFINITY));
  auto m = by_name(connects("10.96.0.10", 80, 100));
  EXPECT_EQ(m.size(), 1u) << ::testing::PrintToString(m);

  // A re-apply that keeps it keeps the map, and with it the client's endpoint.
  ASSERT_EQ(apply(sticky("{address: 127.0.0.2}, {address: 127.0.0.3}, {address: 127.0.0.4}", "    prefer: []\n")), 0)
      << err_;
  auto again = by_name(connects("10.96.0.10", 80, 100));
  EXPECT_EQ(again, (std::map<std::string, int>{{m.begin()->first, 100}})) << ::testing::PrintToString(again);

  // Dropped: back to one entry, and connects are spread again.
  ASSERT_EQ(apply(plain), 0) << err_;
  EXPECT_EQ(affinity_entries(pin_dir_), 1u);
  EXPECT_GT(by_name(connects("10.96.0.10", 80, 100)).size(), 1u);
}
