// PathReuse answers a reused section only with the path of the very record it
// names: a record lost, replaced or of another process gives nothing.
#include "trace/path_reuse.h"

#include <gtest/gtest.h>

namespace cgscope::trace {
namespace {

TEST(PathReuse, AnswersTheStampOfTheLastFullRecordOnly) {
  PathReuse r;
  r.remember(10, 3, 1000, 11, "/a/out");
  ASSERT_NE(r.find(10, 3, 1000, 11), nullptr);
  EXPECT_EQ(*r.find(10, 3, 1000, 11), "/a/out");
  EXPECT_EQ(r.find(10, 3, 1000, 12), nullptr) << "another thread's record";
  EXPECT_EQ(r.find(10, 3, 999, 11), nullptr) << "another time";
  EXPECT_EQ(r.find(10, 4, 1000, 11), nullptr) << "another fd";
  EXPECT_EQ(r.find(20, 3, 1000, 11), nullptr) << "another process";

  // Each stamp keeps its own path; the third full record of the fd lets the
  // first go, and its stamp then answers nothing rather than a newer path.
  r.remember(10, 3, 2000, 12, "/b/out");
  ASSERT_NE(r.find(10, 3, 1000, 11), nullptr) << "two threads may arm in the other order";
  EXPECT_EQ(*r.find(10, 3, 1000, 11), "/a/out");
  ASSERT_NE(r.find(10, 3, 2000, 12), nullptr);
  EXPECT_EQ(*r.find(10, 3, 2000, 12), "/b/out");
  r.remember(10, 3, 3000, 11, "/c/out");
  EXPECT_EQ(r.find(10, 3, 1000, 11), nullptr);
  ASSERT_NE(r.find(10, 3, 3000, 11), nullptr);
  EXPECT_EQ(*r.find(10, 3, 3000, 11), "/c/out");
  EXPECT_EQ(r.find(10, 4, 0, 0), nullptr) << "an fd never named";
}

TEST(PathReuse, ForgetsAProcessThatEnded) {
  PathReuse r;
  r.remember(10, 3, 1000, 10, "/a");
  r.remember(10, 4, 1001, 10, "/b");
  r.remember(20, 3, 1002, 20, "/c");
  EXPECT_EQ(r.processes(), 2u);
  r.forget(10);
  EXPECT_EQ(r.processes(), 1u);
  EXPECT_EQ(r.find(10, 3, 1000, 10), nullptr);
  EXPECT_EQ(r.find(10, 4, 1001, 10), nullptr);
  ASSERT_NE(r.find(20, 3, 1002, 20), nullptr);
  r.forget(99);  // never seen: nothing happens
  EXPECT_EQ(r.processes(), 1u);
}

TEST(PathReuse, KeepsPathsWithAnyBytes) {
  PathReuse r;
  std::string raw("/x\n\0y", 5);
  r.remember(1, 0, 5, 1, raw);
  ASSERT_NE(r.find(1, 0, 5, 1), nullptr);
  EXPECT_EQ(*r.find(1, 0, 5, 1), raw);
}

}  // namespace
}  // namespace cgscope::trace
