// Several cgscope lb at once on one pin dir (issue 11, findings 1 and 2): one
// writer at a time, the others wait for the lock, and no one removes what it
// did not make.
#include <sys/file.h>

#include "lb_fixture.h"

using namespace cgscope;
using namespace cgscope::lbtest;

namespace {

// File `i` of a set that differ in every map: its own service (address,
// backend), a shared service with its own endpoint set, a port of its own.
std::string variant(int i) {
  std::string s = fmt::format(
      "services:\n"
      "  - {{name: only{0}, addresses: [10.96.1.{1}], ports: [80], endpoints: [{{address: 127.0.1.{1}}}]}}\n"
      "  - name: web\n    addresses: [10.96.0.10]\n    ports: [{{port: {2}, target_port: 8080}}]\n    endpoints:\n",
      i, i + 1, 1000 + i);
  for (int b = 2; b <= 4; b++)
    if ((i >> (b - 2)) & 1 || b == 2) s += fmt::format("      - {{address: 127.0.0.{}}}\n", b);
  return s;
}

}  // namespace

// Finding 1: two first applies on one pin dir both believed they made the
// pins; the loser's cleanup removed the winner's state (4 of 40 tries).
TEST_F(LbTest, FirstAppliesAtOnceBothSucceedAndKeepTheState) {
  three_backends();
  const std::string file = write_config(kThreeBackends);
  for (int round = 0; round < 15; round++) {
    std::ostringstream o, e;
    ASSERT_EQ(lb::run_reset(pin_dir_, o, e), 0) << e.str();
    auto res = cli_at_once({apply_argv(file), apply_argv(file), apply_argv(file), apply_argv(file)});
    for (const auto& r : res) ASSERT_EQ(r.code, 0) << "round " << round << ": " << r.output;
    ASSERT_EQ(links_attached(), kAllLinks) << "round " << round << ": " << status_json();
    ASSERT_TRUE(holds_exactly(file)) << "round " << round << ": " << out_ << err_;
  }
  for (const Outcome& o : connects("10.96.0.10", 80, 20)) EXPECT_EQ(o.err, 0);
}

// Finding 2: applies of different files at once cross-wired services (one
// file's address on the other's backend). With the lock they run one after
// another, so the state is exactly one file's, whichever came last.
TEST_F(LbTest, TwentyAppliesOfDifferentFilesLeaveExactlyOne) {
  three_backends();
  ASSERT_EQ(apply(variant(0)), 0) << err_;
  std::vector<std::string> files;
  std::vector<std::vector<std::string>> argvs;
  for (int i = 0; i < 20; i++) {
    files.push_back(write_config(variant(i)));
    argvs.push_back(apply_argv(files.back()));
  }
  auto res = cli_at_once(argvs);
  for (size_t i = 0; i < res.size(); i++) EXPECT_EQ(res[i].code, 0) << files[i] << ": " << res[i].output;
  std::vector<int> matching;
  for (int i = 0; i < 20; i++)
    if (holds_exactly(files[i])) matching.push_back(i);
  ASSERT_EQ(matching.size(), 1u) << status_json();
  auto svc = services_by_name();
  EXPECT_EQ(svc.size(), 2u);
  EXPECT_TRUE(svc.count(fmt::format("only{}", matching[0]))) << status_json();
  EXPECT_EQ(links_attached(), kAllLinks);
}

// A second writer waits for the lock with a bound, says for whom, and then
// fails having changed nothing; status waits too (it never reads a change
// halfway); reset as well.
TEST_F(LbTest, AWriterHoldingThePinDirMakesTheOthersWaitAndGiveUpClearly) {
  three_backends();
  ASSERT_EQ(apply(kThreeBackends), 0) << err_;
  std::string before = state_json();
  UniqueFd dir(::open(pin_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  ASSERT_EQ(::flock(dir.get(), LOCK_EX), 0);  // as an apply in progress holds it
  auto t0 = std::chrono::steady_clock::now();
  auto r = cli({"lb", "apply", write_config(variant(3)), "--cgroup", cg_->path(), "--pin-dir", pin_dir_,
                "--lock-timeout", "1"});
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(fmt::format("waiting for another cgscope lb (pid {}), which holds {}", getpid(), pin_dir_)),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("still holds " + pin_dir_ + " after 1 s; nothing was changed"), std::string::npos)
      << r.output;
  for (const char* cmd : {"status", "reset"}) {
    auto s = cli({"lb", cmd, "--pin-dir", pin_dir_, "--lock-timeout", "0.3"});
    EXPECT_EQ(s.code, 1) << cmd << ": " << s.output;
    EXPECT_NE(s.output.find("still holds"), std::string::npos) << cmd << ": " << s.output;
  }
  // Another reader at once is fine: status takes the lock shared.
  ASSERT_EQ(::flock(dir.get(), LOCK_UN), 0);
  ASSERT_EQ(::flock(dir.get(), LOCK_SH), 0);
  auto st = cli({"lb", "status", "--pin-dir", pin_dir_, "--lock-timeout", "1"});
  EXPECT_EQ(st.code, 0) << st.output;
  ASSERT_EQ(::flock(dir.get(), LOCK_UN), 0);
  EXPECT_EQ(state_json(), before);
  // Once the lock is free, a waiting apply goes ahead.
  std::jthread release([&] {
    std::this_thread::sleep_for(300ms);
    ::flock(dir.get(), LOCK_UN);
  });
  ASSERT_EQ(::flock(dir.get(), LOCK_EX), 0);
  auto waited = cli_apply(write_config(variant(3)));
  release.join();
  EXPECT_EQ(waited.code, 0) << waited.output;
  EXPECT_NE(waited.output.find("waiting for"), std::string::npos) << waited.output;
}

// A reset while applies run: each apply either finds the state or starts over
// from nothing; none fails because the directory went away under it.
TEST_F(LbTest, ResetsAndAppliesAtOnce) {
  three_backends();
  const std::string file = write_config(kThreeBackends);
  std::vector<std::vector<std::string>> argvs;
  for (int i = 0; i < 12; i++)
    argvs.push_back(i % 3 == 2 ? std::vector<std::string>{"lb", "reset", "--pin-dir", pin_dir_} : apply_argv(file));
  auto res = cli_at_once(argvs);
  for (size_t i = 0; i < res.size(); i++) EXPECT_EQ(res[i].code, 0) << i << ": " << res[i].output;
  ASSERT_EQ(apply_file(file), 0) << err_;
  EXPECT_EQ(links_attached(), kAllLinks);
  EXPECT_TRUE(holds_exactly(file));
}
