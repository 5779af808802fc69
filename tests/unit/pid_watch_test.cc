#include "trace/pid_watch.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace cgscope::trace {
namespace {

// Larger than any pid_max allows (4194304): never a running process.
constexpr pid_t kNoSuchPid = 5000000;

cgs_record lifecycle(uint32_t nr, pid_t pid, pid_t child = 0) {
  cgs_record r{};
  r.nr = nr;
  r.pid = uint32_t(pid);
  r.args[0] = uint64_t(child);
  return r;
}

TEST(PidWatch, RefusesPidsThatDoNotRun) {
  EXPECT_TRUE(require_running({getpid()}));
  auto none = require_running({getpid(), kNoSuchPid});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("-p 5000000: no such process"), std::string::npos) << none.error().message;
  EXPECT_FALSE(require_running({0}));
}

TEST(PidWatch, EndsWhenNoWatchedProcessRuns) {
  PidWatch gone({kNoSuchPid}, false);
  EXPECT_TRUE(gone.all_gone());
  PidWatch self({getpid()}, false);
  EXPECT_FALSE(self.all_gone());
}

TEST(PidWatch, ExitRecordsRemoveAndForksAddOnlyWithFollow) {
  PidWatch follow({kNoSuchPid}, true);
  follow.on_lifecycle(lifecycle(CGS_EV_PROCESS_FORK, kNoSuchPid, getpid()));
  follow.on_lifecycle(lifecycle(CGS_EV_PROCESS_EXIT, kNoSuchPid));
  EXPECT_FALSE(follow.all_gone()) << "the child (this process) still runs";
  follow.on_lifecycle(lifecycle(CGS_EV_PROCESS_EXIT, getpid()));
  EXPECT_TRUE(follow.all_gone());

  PidWatch alone({kNoSuchPid}, false);
  alone.on_lifecycle(lifecycle(CGS_EV_PROCESS_FORK, kNoSuchPid, getpid()));
  alone.on_lifecycle(lifecycle(CGS_EV_PROCESS_EXIT, kNoSuchPid));
  EXPECT_TRUE(alone.all_gone()) << "without --follow a child is not watched";
}

}  // namespace
}  // namespace cgscope::trace
