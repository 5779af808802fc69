// DirLock (core/dir_lock.h): exclusive and shared flocks on a directory, the
// bounded wait with its one notice and its holder, and a directory removed
// while its lock is held. flock locks belong to an open file description, so
// two DirLocks of one process contend as two processes would.
#include "core/dir_lock.h"

#include <gtest/gtest.h>

#include "temp_dir.h"
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

namespace cgscope {
namespace {

using namespace std::chrono_literals;

using cgscope::testing::TempDir;

TEST(DirLock, ExclusiveExcludesAndSharedShares) {
  TempDir d("cgscope-dirlock");
  auto a = DirLock::try_lock(d.path);
  ASSERT_TRUE(a && *a);
  auto b = DirLock::try_lock(d.path);
  ASSERT_TRUE(b);
  EXPECT_FALSE(*b);  // held
  EXPECT_EQ(DirLock::holder(d.path), getpid());
  a->reset();
  auto r1 = DirLock::try_lock(d.path, DirLock::Mode::shared), r2 = DirLock::try_lock(d.path, DirLock::Mode::shared);
  ASSERT_TRUE(r1 && *r1 && r2 && *r2);
  auto w = DirLock::try_lock(d.path);
  ASSERT_TRUE(w);
  EXPECT_FALSE(*w);  // readers keep a writer out
}

TEST(DirLock, AWaitIsBoundedAndToldOnceWithTheHolder) {
  TempDir d("cgscope-dirlock");
  auto held = DirLock::try_lock(d.path);
  ASSERT_TRUE(held && *held);
  int told = 0;
  pid_t seen = -1;
  auto t0 = std::chrono::steady_clock::now();
  auto r = DirLock::lock(d.path, {DirLock::Mode::shared, 200ms, [&](pid_t p) { told++, seen = p; }});
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ETIMEDOUT);
  EXPECT_NE(r.error().message.find("by pid " + std::to_string(getpid())), std::string::npos) << r.error().message;
  EXPECT_EQ(told, 1);
  EXPECT_EQ(seen, getpid());
  // Released while waiting: the waiter gets it.
  std::thread release([&] {
    std::this_thread::sleep_for(100ms);
    held->reset();
  });
  auto got = DirLock::lock(d.path, {DirLock::Mode::exclusive, 5s, {}});
  release.join();
  EXPECT_TRUE(got) << got.error().message;
}

TEST(DirLock, ADirectoryRemovedUnderTheLockIsNoLongerItsPath) {
  TempDir d("cgscope-dirlock");
  std::string dir = d.path + "/x";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  auto l = DirLock::lock(dir, {DirLock::Mode::exclusive, 0ms, {}});
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_TRUE(l->still_at(dir));
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  EXPECT_FALSE(l->still_at(dir));
  auto none = DirLock::lock(d.path + "/missing", {DirLock::Mode::exclusive, 0ms, {}});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ENOENT);
}

}  // namespace
}  // namespace cgscope
