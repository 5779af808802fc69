// Pins made by another version: a map whose contents are the programs' own
// (per-socket records, affinity, counters) and whose definition changed is
// replaced by the next apply, which keeps balancing; a map of real state (the
// services) that no longer fits is refused with the way out, and nothing changes.
#include "lb_fixture.h"

using namespace cgscope;
using namespace cgscope::lbtest;

namespace {

constexpr const char* kWeb =
    "services:\n  - name: web\n    addresses: [10.96.0.10]\n    ports: [{port: 80, target_port: 8080}]\n"
    "    endpoints: [{address: 127.0.0.2}]\n";

// Puts a map of another definition where `name` is pinned, as an older version
// of cgscope would have left it.
void repin_as_older(const std::string& pin_dir, const std::string& name, bpf_map_type type, uint32_t value_size) {
  const std::string p = pin_dir + "/" + name;
  UniqueFd m(bpf_map_create(type, "cgs_old", 4, value_size, 16, nullptr));
  ASSERT_TRUE(m) << "bpf_map_create: " << std::strerror(errno);
  ASSERT_EQ(::unlink(p.c_str()), 0) << p;
  ASSERT_EQ(bpf_obj_pin(m.get(), p.c_str()), 0) << p << ": " << std::strerror(errno);
}

uint32_t value_size_of(const std::string& path) {
  UniqueFd fd(bpf_obj_get(path.c_str()));
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  EXPECT_TRUE(fd && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0) << path;
  return info.value_size;
}

}  // namespace

TEST_F(LbTest, CountersPinnedByAnOlderVersionAreReplacedAndBalancingGoesOn) {
  serve("b2", "127.0.0.2", 8080);
  ASSERT_EQ(apply(kWeb), 0) << err_;
  repin_as_older(pin_dir_, "lb_counters", BPF_MAP_TYPE_PERCPU_HASH, 16);
  ASSERT_EQ(apply(kWeb), 0) << err_;
  EXPECT_NE(out_.find("replaced lb_counters (made by another version"), std::string::npos) << out_;
  EXPECT_FALSE(std::filesystem::exists(pin_dir_ + "/lb_counters_old"));
  EXPECT_EQ(value_size_of(pin_dir_ + "/lb_counters"), sizeof(cgs_lb_counters));
  auto m = by_name(connects("10.96.0.10", 80, 20));
  EXPECT_EQ(m, (std::map<std::string, int>{{"b2", 20}})) << ::testing::PrintToString(m);
  auto web = services_by_name().at("web");
  EXPECT_EQ(web["balanced"].get<int>(), 20) << web.dump();
  EXPECT_EQ(web["established"].get<int>(), 20) << web.dump();
}

TEST_F(LbTest, AServiceMapPinnedByAnOlderVersionIsRefusedAndNothingChanges) {
  serve("b2", "127.0.0.2", 8080);
  ASSERT_EQ(apply(kWeb), 0) << err_;
  repin_as_older(pin_dir_, "lb_service", BPF_MAP_TYPE_HASH, 8);
  // A soft map of another shape too: it must not be replaced by an apply that fails.
  repin_as_older(pin_dir_, "lb_counters", BPF_MAP_TYPE_PERCPU_HASH, 16);
  const std::string before = state_json();
  EXPECT_EQ(apply(kWeb + std::string("  - name: api\n    addresses: [10.96.0.11]\n    ports: [80]\n")), 1);
  EXPECT_NE(err_.find("cgscope lb reset"), std::string::npos) << err_;
  EXPECT_NE(err_.find("lb_service was made by an incompatible version"), std::string::npos) << err_;
  EXPECT_EQ(value_size_of(pin_dir_ + "/lb_service"), 8u);
  EXPECT_EQ(value_size_of(pin_dir_ + "/lb_counters"), 16u);
  EXPECT_FALSE(std::filesystem::exists(pin_dir_ + "/lb_counters_old"));
  EXPECT_EQ(state_json(), before);
}

// An apply killed between moving a pin aside and committing leaves NAME_old:
// the next apply puts it back when nothing took its place (the counters go on
// from where they were), and removes it when a new map did.
TEST_F(LbTest, APinLeftAsideByAKilledApplyIsPutBackOrRemovedByTheNext) {
  serve("b2", "127.0.0.2", 8080);
  ASSERT_EQ(apply(kWeb), 0) << err_;
  ASSERT_EQ(by_name(connects("10.96.0.10", 80, 5)), (std::map<std::string, int>{{"b2", 5}}));
  const std::string pin = pin_dir_ + "/lb_counters";
  ASSERT_EQ(::rename(pin.c_str(), (pin + "_old").c_str()), 0);
  ASSERT_EQ(apply(kWeb), 0) << err_;
  EXPECT_FALSE(std::filesystem::exists(pin + "_old"));
  ASSERT_EQ(by_name(connects("10.96.0.10", 80, 5)), (std::map<std::string, int>{{"b2", 5}}));
  EXPECT_EQ(services_by_name().at("web")["balanced"].get<int>(), 10) << "the old counters were not put back";

  // Both there: the leftover is stale.
  UniqueFd stale(bpf_map_create(BPF_MAP_TYPE_HASH, "cgs_stale", 4, 4, 4, nullptr));
  ASSERT_TRUE(stale);
  ASSERT_EQ(bpf_obj_pin(stale.get(), (pin + "_old").c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(apply(kWeb), 0) << err_;
  EXPECT_FALSE(std::filesystem::exists(pin + "_old"));
  EXPECT_EQ(services_by_name().at("web")["balanced"].get<int>(), 10);
}
