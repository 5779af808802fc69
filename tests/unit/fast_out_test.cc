#include "trace/fast_out.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace cgscope::trace {
namespace {

template <class T>
std::string dec(T v) {
  std::string s = "x";
  {
    FastOut o(s, FastOut::kDecMax);
    o.dec(v);
  }
  return s.substr(1);
}

TEST(FastOut, DecimalAgreesWithToStringAtEveryDigitCountEdge) {
  // 0, each power of ten and the numbers next to it, and each 2^k - 1, 2^k.
  EXPECT_EQ(dec(uint64_t(0)), "0");
  uint64_t p = 1;
  for (int k = 0; k < 20; k++) {
    for (uint64_t v : {p - 1, p, p + 1}) EXPECT_EQ(dec(v), std::to_string(v)) << v;
    if (k < 19) p *= 10;
  }
  for (int k = 1; k < 64; k++) {
    uint64_t v = uint64_t(1) << k;
    EXPECT_EQ(dec(v - 1), std::to_string(v - 1));
    EXPECT_EQ(dec(v), std::to_string(v));
  }
  EXPECT_EQ(dec(std::numeric_limits<uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(dec(std::numeric_limits<unsigned long long>::max()), "18446744073709551615");
}

TEST(FastOut, SignedValuesKeepTheirSignToTheMostNegative) {
  EXPECT_EQ(dec(int64_t(-1)), "-1");
  EXPECT_EQ(dec(int64_t(-4095)), "-4095");
  EXPECT_EQ(dec(std::numeric_limits<int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(dec(std::numeric_limits<int64_t>::max()), "9223372036854775807");
  EXPECT_EQ(dec(int32_t(-2147483647 - 1)), "-2147483648");
  EXPECT_EQ(dec(uint32_t(4294967295u)), "4294967295");
  EXPECT_EQ(dec(std::numeric_limits<int64_t>::min()).size(), FastOut::kDecMax);
}

TEST(FastOut, GivesBackWhatItDidNotUse) {
  std::string s = "ab";
  {
    FastOut o(s, 100);
    o.lit("{\"k\":");
    o.dec(42);
    o.ch('}');
    o.bytes("!");
  }
  EXPECT_EQ(s, "ab{\"k\":42}!");
  EXPECT_EQ(s.size(), 11u);
}

TEST(FastOut, PlainAsciiIsWhatNeedsNoEscape) {
  EXPECT_TRUE(plain_ascii("bench_storm"));
  EXPECT_TRUE(plain_ascii(""));
  EXPECT_FALSE(plain_ascii("a\"b"));
  EXPECT_FALSE(plain_ascii("a\\b"));
  EXPECT_FALSE(plain_ascii("tab\there"));
  EXPECT_FALSE(plain_ascii("\x7f"));
  EXPECT_FALSE(plain_ascii("caf\xc3\xa9"));
}

}  // namespace
}  // namespace cgscope::trace
