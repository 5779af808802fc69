// The relay's own upstream connects when cgscope itself runs in the proxied
// cgroup: from the start (each of its sockets is exempted), or moved in while
// it runs (its first connect comes back to it: refused as a loop, and every
// socket exempted from then on). Never a loop that dials again and again.
#include <fstream>

#include "proxy_fixture.h"

namespace cgscope::testing {
namespace {

class ProxySelfTest : public ProxyAttachTest {
 protected:
  // `proxy attach --via direct` on the test's cgroup, cgscope itself inside it.
  void attach_from_inside() {
    ASSERT_TRUE(attached_.start({CGSCOPE_BIN, "proxy", "attach", "--cgroup", cg_->path(), "--via", "direct"},
                                {.cgroup = cg_->path(), .err = Stream::kPipe, .death_signal = SIGTERM,
                                 .name = "proxy attach (inside)"}))
        << attached_.error();
    ASSERT_EQ(read_until(attached_.pipe_fd(), log_, Clock::now() + 30s,
                         [](const std::string& s) { return s.find("(relay ") != std::string::npos; }),
              ReadEnd::kDone)
        << log_;
  }
  // A busybox wget of the test file from a process in the cgroup: whether it
  // got the whole body, and what it said.
  std::pair<bool, std::string> wget_from_cgroup() {
    TempPath out("selfgot");
    auto r = run({"sh", "-c",
                  fmt::format("echo $$ > {}/cgroup.procs && exec busybox wget -q -O {} {}", cg_->path(),
                              out.path, url())},
                 30s);
    return {r.code == 0 && slurp(out.path) == body_, "status " + std::to_string(r.code.value_or(-1)) + ": " + r.output};
  }
};

TEST_F(ProxySelfTest, ARelayInsideItsProxiedCgroupExemptsItsOwnSockets) {
  attach_from_inside();
  auto [ok, said] = wget_from_cgroup();
  EXPECT_TRUE(ok) << said;
  std::string log = stop_and_log();
  EXPECT_EQ(log.find("loop:"), std::string::npos) << log;
  EXPECT_NE(log.find("1 connections proxied, 0 failed"), std::string::npos) << log;
}

TEST_F(ProxySelfTest, ARelayMovedIntoItsProxiedCgroupRefusesItsOwnConnectOnceThenExempts) {
  attach({"--via", "direct"});
  std::ofstream(cg_->path() + "/cgroup.procs") << attached_.pid();
  EXPECT_FALSE(wget_from_cgroup().first) << "the first connect after the move went through";
  auto [ok, said] = wget_from_cgroup();
  EXPECT_TRUE(ok) << "the relay's sockets were not exempted after the loop: " << said;
  std::string log = stop_and_log();
  EXPECT_NE(log.find("loop: the relay's own connect was sent back to it"), std::string::npos) << log;
}

}  // namespace
}  // namespace cgscope::testing
