#include "core/sizes.h"

#include <gtest/gtest.h>

namespace cgscope {
namespace {

TEST(Sizes, UnitsAndBounds) {
  EXPECT_EQ(*parse_size("4096", 4096, 1u << 30), 4096u);
  EXPECT_EQ(*parse_size("16M", 4096, 1u << 30), 16u << 20);
  EXPECT_EQ(*parse_size("64K", 4096, 1u << 30), 64u << 10);
  EXPECT_EQ(*parse_size("1G", 4096, 1u << 30), 1u << 30);
  EXPECT_EQ(*parse_size("2MiB", 4096, 1u << 30), 2u << 20);
}

TEST(Sizes, RejectsWithAMessageThatNamesTheInput) {
  for (const char* bad : {"", "M", "12Q", "-1", "2G", "1K", "99999999999999999999G"}) {
    auto r = parse_size(bad, 4096, 1u << 30);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace cgscope
