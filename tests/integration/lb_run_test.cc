// `cgscope lb run FILE` (lb/run.h): the maps follow the file through renames
// over it, rewrites in place and a ConfigMap-style symlink swap; a bad version is
// reported and keeps the last good state; maps changed behind its back are put
// back at the resync; SIGTERM ends it with the state left in place.
#include "lb_fixture.h"

using namespace cgscope;
using namespace cgscope::lbtest;

namespace {

std::string one_service(const std::string& endpoints) {
  return "services:\n  - name: web\n    addresses: [10.96.0.10]\n    ports: [{port: 80, target_port: 8080}]\n"
         "    endpoints: [" + endpoints + "]\n";
}

}  // namespace

class LbRunTest : public LbTest {
 protected:
  void SetUp() override {
    LbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    dir_ = std::make_unique<TempPath>("lb-run-" + tag_);
    ASSERT_EQ(::mkdir(dir_->path.c_str(), 0700), 0);
    file_ = dir_->path + "/lb.yaml";
  }
  void TearDown() override {
    if (daemon_.running()) {
      daemon_.signal(SIGTERM);
      (void)daemon_.wait_for(10s);
    }
  }
  // Writes `text` beside the file and renames it over, as docs/lb.md asks.
  void replace(const std::string& text) {
    std::string tmp = file_ + ".tmp";
    std::ofstream(tmp) << text;
    ASSERT_EQ(::rename(tmp.c_str(), file_.c_str()), 0);
  }
  void start(std::vector<std::string> more = {}) {
    std::vector<std::string> args = {CGSCOPE_BIN, "lb", "run", file_, "--cgroup", cg_->path(), "--pin-dir", pin_dir_};
    args.insert(args.end(), more.begin(), more.end());
    ASSERT_TRUE(daemon_.start(args, {.out = Stream::kPipe, .err = Stream::kPipe})) << daemon_.error();
  }
  // Waits (up to `limit`) until the maps hold exactly `text`; how long it took.
  std::optional<std::chrono::milliseconds> until_holds(const std::string& text, std::chrono::seconds limit = 10s) {
    std::string want = write_config(text);
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < limit) {
      read_log(20ms);
      if (::access((pin_dir_ + "/lb_service").c_str(), F_OK) == 0 && holds_exactly(want))
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }
  void read_log(std::chrono::milliseconds for_) {
    cgscope::testing::read_until(daemon_.pipe_fd(), log_, cgscope::testing::Clock::now() + for_);
  }
  std::unique_ptr<TempPath> dir_;
  std::string file_, log_;
  Child daemon_;
};

TEST_F(LbRunTest, TheMapsFollowTheFileAndABadVersionKeepsTheLastGoodOne) {
  three_backends();
  const std::string v1 = one_service("{address: 127.0.0.2}"), v2 = one_service("{address: 127.0.0.3}"),
                    v3 = one_service("{address: 127.0.0.4}"),
                    v4 = one_service("{address: 127.0.0.2}, {address: 127.0.0.3}");
  replace(v1);
  start();
  ASSERT_TRUE(until_holds(v1)) << log_;
  EXPECT_EQ(by_name(connects("10.96.0.10", 80, 5))["b2"], 5);

  replace(v2);  // renamed over
  auto took = until_holds(v2);
  ASSERT_TRUE(took) << log_;
  EXPECT_LT(*took, 3s) << log_;
  EXPECT_EQ(by_name(connects("10.96.0.10", 80, 5))["b3"], 5);

  // A bad version (a duplicate key): reported, the maps keep v2.
  replace(v2 + "services: []\n");
  read_log(1500ms);
  EXPECT_NE(log_.find("key 'services' is given twice"), std::string::npos) << log_;
  EXPECT_NE(log_.find("was not applied; the maps keep the last state applied"), std::string::npos) << log_;
  EXPECT_TRUE(until_holds(v2, 1s)) << log_;

  // Rewritten in place (truncate and write), as an editor without rename does.
  std::ofstream(file_, std::ios::trunc) << v3;
  ASSERT_TRUE(until_holds(v3)) << log_;

  // A ConfigMap volume: the file is a symlink through `..data`, which is swapped.
  std::string d1 = dir_->path + "/..2026_1", d2 = dir_->path + "/..2026_2";
  ASSERT_EQ(::mkdir(d1.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(d2.c_str(), 0700), 0);
  std::ofstream(d1 + "/lb.yaml") << v3;
  std::ofstream(d2 + "/lb.yaml") << v4;
  ASSERT_EQ(::symlink("..2026_1", (dir_->path + "/..data").c_str()), 0);
  ASSERT_EQ(::unlink(file_.c_str()), 0);
  ASSERT_EQ(::symlink("..data/lb.yaml", file_.c_str()), 0);
  ASSERT_TRUE(until_holds(v3)) << log_;
  ASSERT_EQ(::symlink("..2026_2", (dir_->path + "/..data_tmp").c_str()), 0);
  ASSERT_EQ(::rename((dir_->path + "/..data_tmp").c_str(), (dir_->path + "/..data").c_str()), 0);
  ASSERT_TRUE(until_holds(v4)) << log_;

  // SIGTERM: exit 0, the state stays (balancing goes on without cgscope).
  daemon_.signal(SIGTERM);
  read_log(3s);
  auto st = daemon_.wait_for(10s);
  ASSERT_TRUE(st);
  EXPECT_EQ(cgscope::testing::exit_code(st), 0) << log_;
  EXPECT_NE(log_.find("stopped (signal 15)"), std::string::npos) << log_;
  EXPECT_EQ(links_attached(), kAllLinks);
  EXPECT_EQ(by_name(connects("10.96.0.10", 80, 20)).count("errno 111"), 0u);
}

// Another apply changed the maps behind the daemon's back: the resync puts its
// file back, and an unchanged resync prints nothing.
TEST_F(LbRunTest, TheResyncRepairsWhatOthersChanged) {
  three_backends();
  const std::string mine = one_service("{address: 127.0.0.2}");
  replace(mine);
  start({"--resync", "1"});
  ASSERT_TRUE(until_holds(mine)) << log_;
  read_log(1500ms);  // at least one resync of an unchanged file
  EXPECT_EQ(log_.find("no change"), std::string::npos) << log_;
  ASSERT_EQ(apply(one_service("{address: 127.0.0.4}")), 0) << err_;
  auto took = until_holds(mine, 5s);
  ASSERT_TRUE(took) << log_;
  EXPECT_LT(*took, 2500ms);
}

// Health checks: a backend that dies leaves rotation within fall x interval
// (plus a check's timeout and an apply), after which no connect is refused;
// it comes back once it passes rise checks.
TEST_F(LbRunTest, ADeadEndpointLeavesRotationAndComesBack) {
  three_backends();
  const std::string v = one_service("{address: 127.0.0.2}, {address: 127.0.0.3}, {address: 127.0.0.4}");
  replace(v);
  start({"--health-interval", "0.2", "--health-timeout", "0.2", "--health-fall", "2", "--health-rise", "2"});
  ASSERT_TRUE(until_holds(v)) << log_;
  EXPECT_EQ(by_name(connects("10.96.0.10", 80, 300)).size(), 3u);

  servers_[1].reset();  // b3 dies: connects to it are refused
  auto t0 = std::chrono::steady_clock::now();
  auto says = [&](const std::string& what) {
    return cgscope::testing::read_until(daemon_.pipe_fd(), log_, cgscope::testing::Clock::now() + 5s,
                                        [&](const std::string& l) {
                                          auto at = l.find(what);
                                          return at != std::string::npos && l.find("applied", at) != std::string::npos;
                                        }) == cgscope::testing::ReadEnd::kDone;
  };
  ASSERT_TRUE(says("endpoint 127.0.0.3:8080 is down (2 failed checks in a row): out of rotation")) << log_;
  auto out_after = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(out_after, 2s) << log_;
  std::cout << "out of rotation after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(out_after).count() << " ms\n";
  auto m = by_name(connects("10.96.0.10", 80, 300));
  EXPECT_EQ(m.count("b3"), 0u) << ::testing::PrintToString(m);
  EXPECT_EQ(m["b2"] + m["b4"], 300) << ::testing::PrintToString(m);  // none refused
  auto j = nlohmann::json::parse(status_json());
  EXPECT_EQ(j["services"][0]["tiers"][0].size(), 2u) << j.dump(1);

  serve("b3", "127.0.0.3", 8080);  // back
  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(says("endpoint 127.0.0.3:8080 is up again (2 passed checks in a row): back in rotation")) << log_;
  std::cout << "back in rotation after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms\n";
  m = by_name(connects("10.96.0.10", 80, 300));
  EXPECT_GE(m["b3"], 50) << ::testing::PrintToString(m);
  EXPECT_TRUE(until_holds(v, 2s)) << log_;  // all up: the maps are the file's again
}

namespace {

// A loopback port nothing listens on now (the kernel's pick, let go at once).
uint16_t free_port() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 0;
  getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// GET /metrics from this process (not in the test's cgroup: nothing is balanced).
std::string scrape(uint16_t port) {
  Target t = target("127.0.0.1", port);
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&t.ss), t.len) != 0) return "connect failed";
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  if (::write(s.get(), req.data(), req.size()) != static_cast<ssize_t>(req.size())) return "write failed";
  std::string out;
  cgscope::testing::read_until(s.get(), out, cgscope::testing::Clock::now() + 5s);
  return out;
}

}  // namespace

TEST_F(LbRunTest, MetricsServeConnectsHealthAndApplies) {
  three_backends();
  const std::string v = one_service("{address: 127.0.0.2}, {address: 127.0.0.3}");
  replace(v);
  const uint16_t port = free_port();
  ASSERT_NE(port, 0);
  start({"--metrics", fmt::format("127.0.0.1:{}", port), "--health-interval", "0.2"});
  ASSERT_TRUE(until_holds(v)) << log_;
  connects("10.96.0.10", 80, 7);
  std::this_thread::sleep_for(500ms);  // a round of health checks
  std::string m = scrape(port);
  EXPECT_NE(m.find("HTTP/1.1 200 OK"), std::string::npos) << m;
  // Both endpoints serve: every connect established, none failed or pending.
  EXPECT_NE(m.find("cgscope_lb_connects_total{service=\"web\",outcome=\"established\"} 7\n"), std::string::npos) << m;
  EXPECT_NE(m.find("cgscope_lb_connects_total{service=\"web\",outcome=\"failed\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("cgscope_lb_connects_total{service=\"web\",outcome=\"refused\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("cgscope_lb_connects_total{service=\"web\",outcome=\"pending\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("cgscope_lb_endpoint_up{endpoint=\"127.0.0.2:8080\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("cgscope_lb_applies_total{result=\"ok\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("cgscope_lb_last_apply_ok 1\n"), std::string::npos) << m;
  servers_[0].reset();  // b2 dies
  std::this_thread::sleep_for(1500ms);
  m = scrape(port);
  // Out of rotation now; whatever went to it before the checks noticed failed.
  connects("10.96.0.10", 80, 5);
  m = scrape(port);
  EXPECT_NE(m.find("cgscope_lb_connects_total{service=\"web\",outcome=\"established\"} 12\n"), std::string::npos) << m;
  EXPECT_NE(m.find("cgscope_lb_endpoint_up{endpoint=\"127.0.0.2:8080\"} 0\n"), std::string::npos) << m << log_;
  EXPECT_NE(m.find("cgscope_lb_applies_total{result=\"ok\"} 2\n"), std::string::npos) << m;
}
