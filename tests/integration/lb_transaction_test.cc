// apply as a transaction (issue 11, findings 4, 5 and 7): a change is checked
// against the maps' capacities and the attached cgroup before the first write,
// and whatever a killed apply left, the next one repairs whole, counters included.
#include <signal.h>

#include <random>

#include "lb_fixture.h"

using namespace cgscope;
using namespace cgscope::lbtest;

namespace {

// `n` (up to 131,072) services named PREFIXi at 10.(64+2*BLOCK).x.y, one
// endpoint each at 127.(1+2*BLOCK).x.y: two blocks share no address.
std::string many(const std::string& prefix, int block, int n) {
  std::string s = "services:\n";
  s.reserve(static_cast<size_t>(n) * 120);
  for (int i = 0; i < n; i++) {
    int hi = 2 * block + i / 65536, mid = i / 256 % 256, lo = i % 256;
    s += fmt::format("  - {{name: {}{}, addresses: [10.{}.{}.{}], ports: [80], endpoints: [{{address: 127.{}.{}.{}}}]}}\n",
                     prefix, i, 64 + hi, mid, lo, 1 + hi, mid, lo);
  }
  return s;
}

// Two files that differ in every way a plan can: services kept, changed
// (endpoints, policy, ports), removed and added; backends shared and not.
std::string before_file() {
  std::string s = "services:\n";
  for (int i = 0; i < 12; i++)
    s += fmt::format("  - {{name: s{}, addresses: [10.96.2.{}], ports: [{{port: 80, target_port: 8080}}], "
                     "endpoints: [{{address: 127.0.0.{}}}, {{address: 127.0.2.{}}}]}}\n",
                     i, i + 1, 2 + i % 3, i + 1);
  return s;
}
std::string after_file() {
  std::string s = "services:\n";
  for (int i = 6; i < 18; i++)
    s += fmt::format("  - {{name: s{}, addresses: [10.96.2.{}], ports: [{{port: 80, target_port: 8080}}{}], "
                     "policy: {}, endpoints: [{{address: 127.0.0.{}}}, {{address: 127.0.0.{}}}]}}\n",
                     i, i + 1, i % 2 ? ", 443" : "", i % 4 ? "random" : "failover", 2 + (i + 1) % 3, 2 + (i + 2) % 3);
  return s;
}

int map_writes(const std::string& dry_run_output) {
  auto at = dry_run_output.find(" map writes");
  if (at == std::string::npos) return 0;
  auto open = dry_run_output.rfind('(', at);
  return std::stoi(dry_run_output.substr(open + 1, at - open - 1));
}

}  // namespace

// Finding 4: replacing 100k services by 100k others failed at E2BIG halfway
// (the names map holds 131,072), leaving orphans every later apply tripped on.
TEST_F(LbTest, AHundredThousandServicesReplacedByAHundredThousandOthers) {
  const std::string a = write_config(many("a", 0, 100000)), b = write_config(many("b", 1, 100000));
  ASSERT_EQ(apply_file(a), 0) << err_;
  ASSERT_EQ(apply_file(b, true), 0) << err_;
  EXPECT_NE(out_.find("removals first"), std::string::npos) << out_;
  ASSERT_EQ(apply_file(b), 0) << err_;
  EXPECT_NE(out_.find("services: 100000 added, 0 changed, 100000 removed"), std::string::npos) << out_;
  EXPECT_TRUE(holds_exactly(b)) << out_ << err_;
  EXPECT_EQ(links_attached(), kAllLinks);
}

// Finding 5: with the attached cgroup deleted, a failed apply still changed an
// endpoint (and status claimed 5/5 hooks attached).
TEST_F(LbTest, ADeletedCgroupIsFoundBeforeAnyWrite) {
  three_backends();
  auto mnt = cgroup2_mount();
  ASSERT_TRUE(mnt);
  std::string gone_path;
  {
    auto gone = ScopedCgroup::create(*mnt, tag_ + "-gone");
    ASSERT_TRUE(gone) << gone.error().message;
    gone_path = gone->path();
    ASSERT_EQ(apply_file(write_config(kThreeBackends), false, gone_path), 0) << err_;
  }  // removed: the links lead to no cgroup once the kernel has let it go (asynchronously)
  auto linked = [&] {  // links that still name a cgroup (-1: no status)
    auto j = nlohmann::json::parse(status_json());
    if (!j.value("applied", false)) return -1;
    int n = 0;
    for (const auto& l : j["links"]) n += l["cgroup_id"].get<uint64_t>() != 0;
    return n;
  };
  for (int i = 0; i < 200 && linked() != 0; i++) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(linked(), 0) << status_json();
  std::string before = state_json();
  auto again = ScopedCgroup::create(*mnt, tag_ + "-gone");  // the same path, a new cgroup
  ASSERT_TRUE(again) << again.error().message;
  std::string changed = std::string(kThreeBackends).substr(0, std::string(kThreeBackends).rfind(", {address: 127.0.0.4}")) + "]\n";
  EXPECT_EQ(apply_file(write_config(changed), false, again->path()), 1);
  EXPECT_NE(err_.find("is attached to a cgroup that has been deleted"), std::string::npos) << err_;
  EXPECT_NE(err_.find("Nothing was changed"), std::string::npos) << err_;
  EXPECT_EQ(state_json(), before);
  EXPECT_EQ(links_attached(), 0);
  std::ostringstream o, e;
  lb::run_status(pin_dir_, false, o, e);
  EXPECT_NE(o.str().find("0/5 hooks attached"), std::string::npos) << o.str();
  EXPECT_NE(o.str().find("linked to a cgroup that has been deleted"), std::string::npos) << o.str();
}

// Finding 7: a kill between a service's removal and its counters' left the
// counters; the next apply kept them, and a new service given that id started
// at "connects balanced 1".
TEST_F(LbTest, CountersAKilledApplyLeftAreRemovedAndNeverInherited) {
  three_backends();
  const char* two = "services:\n  - {name: a, addresses: [10.96.0.10], ports: [{port: 80, target_port: 8080}], "
                    "endpoints: [{address: 127.0.0.2}]}\n  - {name: b, addresses: [10.96.0.11], ports: [{port: 80, "
                    "target_port: 8080}], endpoints: [{address: 127.0.0.3}]}\n";
  ASSERT_EQ(apply(two), 0) << err_;
  for (const Outcome& o : connects("10.96.0.11", 80, 3)) ASSERT_EQ(o.err, 0);
  uint32_t b = services_by_name().at("b")["id"].get<uint32_t>();
  ASSERT_TRUE(counter_ids().count(b));
  // What a kill after the removal of b's frontend and service leaves.
  UniqueFd fe(bpf_obj_get((pin_dir_ + "/lb_frontend").c_str())), sv(bpf_obj_get((pin_dir_ + "/lb_service").c_str()));
  cgs_lb_frontend_key fk{lb::to_abi(*lb::parse_addr("10.96.0.11"))};
  cgs_lb_service_key sk{b};
  ASSERT_EQ(bpf_map_delete_elem(fe.get(), &fk), 0);
  ASSERT_EQ(bpf_map_delete_elem(sv.get(), &sk), 0);
  const char* one = "services:\n  - {name: a, addresses: [10.96.0.10], ports: [{port: 80, target_port: 8080}], "
                    "endpoints: [{address: 127.0.0.2}]}\n";
  ASSERT_EQ(apply(one), 0) << err_;
  EXPECT_FALSE(counter_ids().count(b)) << "stale counters of id " << b;
  ASSERT_EQ(apply(std::string(one) + "  - {name: c, addresses: [10.96.0.12], ports: [80], endpoints: [{address: "
                                     "127.0.0.4}]}\n"),
            0)
      << err_;
  EXPECT_EQ(services_by_name().at("c")["balanced"].get<uint64_t>(), 0u) << status_json();
  for (uint32_t id : counter_ids()) EXPECT_EQ(id, services_by_name().at("a")["id"].get<uint32_t>());
}

// A kill -9 after any number of writes, in a change and in a first apply: the
// next apply brings the maps exactly to its file, counters and hooks included.
TEST_F(LbTest, AnApplyKilledAfterAnyWriteIsRepairedByTheNext) {
  three_backends();
  const std::string a = write_config(before_file()), b = write_config(after_file());
  ASSERT_EQ(apply_file(a), 0) << err_;
  for (int i = 0; i < 12; i += 3) connects(fmt::format("10.96.2.{}", i + 1), 80, 1);  // some counters
  for (int step = 0; step <= 25; step++) {
    ASSERT_EQ(apply_file(a), 0) << err_;
    ASSERT_EQ(apply_file(b, true), 0) << err_;  // the count differs a little from round to round (counters)
    const int writes = map_writes(out_);
    ASSERT_GT(writes, 40) << out_;
    const int k = step * (writes - 1) / 25;
    auto killed = cli_apply(b, {fmt::format("CGSCOPE_LB_TEST_DIE_AFTER_WRITES={}", k)});
    ASSERT_EQ(killed.code, 128 + SIGKILL) << "cut " << k << ": " << killed.output;
    ASSERT_EQ(apply_file(b), 0) << "after a kill at write " << k << ": " << err_;
    ASSERT_TRUE(holds_exactly(b)) << "after a kill at write " << k << ": " << out_ << err_;
    for (uint32_t id : counter_ids()) {
      bool service = false;
      for (const auto& [name, s] : services_by_name()) service = service || s["id"].get<uint32_t>() == id;
      EXPECT_TRUE(service) << "stale counters of id " << id << " after a kill at write " << k;
    }
  }
  for (int i = 6; i < 18; i++) EXPECT_EQ(connects(fmt::format("10.96.2.{}", i + 1), 80, 1)[0].err, 0) << i;
  // A first apply killed halfway: the next one finishes it, hooks included.
  for (int k : {0, 5, 30}) {
    std::ostringstream o, e;
    ASSERT_EQ(lb::run_reset(pin_dir_, o, e), 0) << e.str();
    auto killed = cli_apply(b, {fmt::format("CGSCOPE_LB_TEST_DIE_AFTER_WRITES={}", k)});
    ASSERT_EQ(killed.code, 128 + SIGKILL) << killed.output;
    ASSERT_EQ(apply_file(b), 0) << err_;
    EXPECT_TRUE(holds_exactly(b)) << out_ << err_;
    EXPECT_EQ(links_attached(), kAllLinks);
  }
}

// SIGKILL at random moments of applies (loading, pinning, attaching, writing),
// first ones included: each time the next apply repairs everything.
TEST_F(LbTest, AppliesKilledAtRandomMomentsAreRepaired) {
  three_backends();
  const std::string files[] = {write_config(before_file()), write_config(after_file())};
  std::mt19937 rng(1234);
  for (int round = 0; round < 16; round++) {
    if (round % 4 == 0) {
      std::ostringstream o, e;
      ASSERT_EQ(lb::run_reset(pin_dir_, o, e), 0) << e.str();
    }
    Child c;
    std::vector<std::string> argv = apply_argv(files[round % 2]);
    argv.insert(argv.begin(), CGSCOPE_BIN);
    ASSERT_TRUE(c.start(argv, {.out = Stream::kNull, .err = Stream::kNull})) << c.error();
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    c.kill_group(SIGKILL);
    (void)c.wait_for(10s);
    const std::string& next = files[(round + 1) % 2];
    ASSERT_EQ(apply_file(next), 0) << "round " << round << ": " << err_;
    ASSERT_TRUE(holds_exactly(next)) << "round " << round << ": " << out_ << err_;
    ASSERT_EQ(links_attached(), kAllLinks) << "round " << round;
  }
}
