#include "trace/exec_join.h"

#include <gtest/gtest.h>

namespace cgscope::trace {
namespace {

std::vector<uint8_t> rec(uint8_t tag) { return {tag, tag, tag}; }

TEST(ExecJoin, EntryIsJoinedWithTheExitOfTheSameProcess) {
  ExecJoiner j;
  auto a = rec(1), b = rec(2);
  EXPECT_TRUE(j.on_entry(10, a).empty());
  EXPECT_TRUE(j.on_entry(20, b).empty());
  auto got = j.on_exit(20);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, b);
  EXPECT_FALSE(j.on_exit(20).has_value()) << "an entry joins once";
  EXPECT_EQ(j.pending(), 1u);
}

TEST(ExecJoin, ExitWithoutEntryFindsNothing) {
  ExecJoiner j;
  EXPECT_FALSE(j.on_exit(7).has_value());
}

TEST(ExecJoin, ANewerEntryOfTheSameProcessReplacesTheOlder) {
  ExecJoiner j;
  auto a = rec(1), b = rec(2);
  j.on_entry(10, a);
  j.on_entry(10, b);
  EXPECT_EQ(*j.on_exit(10), b);
}

TEST(ExecJoin, ForgetDropsTheEntry) {
  ExecJoiner j;
  auto a = rec(1);
  j.on_entry(10, a);
  j.forget(10);
  EXPECT_FALSE(j.on_exit(10).has_value());
}

TEST(ExecJoin, WhenFullTheWaitingEntriesAreGivenUpNotLost) {
  ExecJoiner j(2);
  auto a = rec(1), b = rec(2), c = rec(3);
  j.on_entry(1, a);
  j.on_entry(2, b);
  auto given_up = j.on_entry(3, c);
  EXPECT_EQ(given_up.size(), 2u);
  EXPECT_EQ(j.pending(), 1u);
  EXPECT_EQ(*j.on_exit(3), c);
}

}  // namespace
}  // namespace cgscope::trace
