// --bypass CIDR parsing into the kernel's LPM keys (no I/O).
#include <gtest/gtest.h>

#include "proxy/bypass.h"

namespace cgscope::proxy {
namespace {

TEST(Bypass, Ipv4PrefixIsAMappedPrefixMaskedToItsLength) {
  auto p = parse_cidr("10.1.2.3/8");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->prefixlen, 96u + 8);
  EXPECT_EQ(format_prefix(*p), "10.0.0.0/8");
}

TEST(Bypass, BareAddressesAreHostPrefixes) {
  auto v4 = parse_cidr("192.0.2.7");
  ASSERT_TRUE(v4) << v4.error().message;
  EXPECT_EQ(format_prefix(*v4), "192.0.2.7/32");
  auto v6 = parse_cidr("fd00::1");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(format_prefix(*v6), "fd00::1/128");
}

TEST(Bypass, Ipv6PrefixesAndTheEdges) {
  EXPECT_EQ(format_prefix(*parse_cidr("fd12:3456::1/16")), "fd12::/16");
  EXPECT_EQ(format_prefix(*parse_cidr("0.0.0.0/0")), "0.0.0.0/0");
  EXPECT_EQ(parse_cidr("0.0.0.0/0")->prefixlen, 96u);
  EXPECT_EQ(format_prefix(*parse_cidr("::/0")), "::/0");
  EXPECT_EQ(format_prefix(*parse_cidr("10.0.0.255/31")), "10.0.0.254/31");
}

TEST(Bypass, BadInputSaysWhatIsWrong) {
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "fd00::/129", "10.0.0.0/8x", "10.0.0/8", "host",
                          "10.0.0.0/-1", "1.2.3.4/8/9", "fd00::/ 8"}) {
    auto p = parse_cidr(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().message.find("--bypass"), std::string::npos) << p.error().message;
  }
}

}  // namespace
}  // namespace cgscope::proxy
