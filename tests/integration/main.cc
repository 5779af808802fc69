// main() of the integration tests: gtest's, plus a per-test watchdog and signal
// handlers, so that no test can hang and no child outlives the binary.
//
// Watchdog: a test that runs longer than CGSCOPE_TEST_TIMEOUT seconds (default
// 120, well under ctest's TIMEOUT) fails; the watchdog prints which test and what
// it was waiting for (owned.h's WaitNotes), and SIGKILLs the process groups of the
// Children alive, so that whatever wait the test is in returns and its owners
// clean up. A test that has still not ended CGSCOPE_TEST_GRACE seconds later
// (default 15) ends the binary with exit code 124.
//
// SIGINT, SIGTERM, SIGHUP: the owned groups get SIGTERM (cgscope removes what it
// made), then SIGKILL, and the binary dies of the signal.
//
// CGSCOPE_IT_SELFCHECK=1 adds the SelfCheck tests of owned_test.cc, which hang or
// stop early on purpose; the tests of owned_test.cc run them in a child binary.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "owned.h"

namespace cgscope::testing {

void register_selfchecks();  // owned_test.cc

namespace {

constexpr int kWatchdogExit = 124;

Clock::duration env_seconds(const char* name, double fallback) {
  double s = fallback;
  if (const char* v = std::getenv(name)) {
    char* end = nullptr;
    double d = std::strtod(v, &end);
    if (end != v && d > 0) s = d;
  }
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

class Watchdog : public ::testing::EmptyTestEventListener {
 public:
  Watchdog(Clock::duration limit, Clock::duration grace) : limit_(limit), grace_(grace) {}
  ~Watchdog() override { stop(); }

  void OnTestProgramStart(const ::testing::UnitTest&) override { thread_ = std::thread([this] { loop(); }); }
  void OnTestProgramEnd(const ::testing::UnitTest&) override { stop(); }
  void OnTestStart(const ::testing::TestInfo& t) override {
    std::lock_guard<std::mutex> g(mu_);
    test_ = std::string(t.test_suite_name()) + "." + t.name();
    started_ = Clock::now();
    running_ = true;
    fired_ = false;
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    std::lock_guard<std::mutex> g(mu_);
    running_ = false;
  }

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void loop() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      cv_.wait_for(l, std::chrono::milliseconds(100));
      if (stop_ || !running_) continue;
      auto now = Clock::now();
      if (!fired_ && now - started_ >= limit_) {
        fired_ = true;
        fired_at_ = now;
        std::string test = test_;
        l.unlock();  // the registry's lock is taken below; tests take it with no lock of ours
        std::string waits = current_waits();
        auto killed = signal_owned_groups(SIGKILL);
        std::string groups;
        for (const auto& k : killed) groups += (groups.empty() ? "" : ", ") + k;
        char head[160];
        std::snprintf(head, sizeof head, "%s has run %.0f s, past its limit (CGSCOPE_TEST_TIMEOUT=%.0f s)",
                      test.c_str(), secs(now - started_), secs(limit_));
        std::string msg = std::string(head) + "; it was waiting for: " + waits + "; SIGKILLed the process groups " +
                          (groups.empty() ? std::string("(none alive)") : groups);
        std::fprintf(stderr, "[ WATCHDOG ] %s\n", msg.c_str());
        std::fflush(stderr);
        ADD_FAILURE() << "watchdog: " << msg;
        l.lock();
      } else if (fired_ && now - fired_at_ >= grace_) {
        std::fprintf(stderr,
                     "[ WATCHDOG ] %s did not end %.0f s after its children were killed "
                     "(CGSCOPE_TEST_GRACE); it was waiting for: %s; exiting with %d\n",
                     test_.c_str(), secs(grace_), current_waits().c_str(), kWatchdogExit);
        signal_owned_groups(SIGKILL);
        std::fflush(stdout);
        std::fflush(stderr);
        ::_exit(kWatchdogExit);
      }
    }
  }

  const Clock::duration limit_, grace_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::string test_;
  Clock::time_point started_, fired_at_;
  bool running_ = false, fired_ = false, stop_ = false;
};

void on_fatal_signal(int sig) {
  signal_owned_groups_from_handler(SIGTERM);
  timespec pause{0, 300 * 1000 * 1000};
  ::nanosleep(&pause, nullptr);
  signal_owned_groups_from_handler(SIGKILL);
  ::raise(sig);  // SA_RESETHAND: the default action now
}

}  // namespace
}  // namespace cgscope::testing

int main(int argc, char** argv) {
  using namespace cgscope::testing;
  ::testing::InitGoogleTest(&argc, argv);
  if (std::getenv("CGSCOPE_IT_SELFCHECK")) register_selfchecks();
  ::testing::UnitTest::GetInstance()->listeners().Append(
      new Watchdog(env_seconds("CGSCOPE_TEST_TIMEOUT", 120), env_seconds("CGSCOPE_TEST_GRACE", 15)));
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  return RUN_ALL_TESTS();
}
