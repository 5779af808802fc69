// trace's JSON strings are strict UTF-8 whatever the bytes, and the exact bytes
// of a string that was not come back in a `_raw` companion (format.h).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base64.h"
#include "trace/format.h"

namespace cgscope::trace {
namespace {

// An independent strict check (RFC 3629), by code points.
bool strict_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { n = 1; cp = c; }
    else if ((c & 0xe0) == 0xc0) { n = 2; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 3; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 4; cp = c & 0x07; }
    else return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; k++) {
      if ((b(k) & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b(k) & 0x3f);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

const std::vector<std::string> kHard = {
    "\xc0\xaf",              // overlong '/'
    "\xed\xa0\x80",          // a surrogate
    "\xf4\x90\x80\x80",      // past U+10FFFF
    "\xe0\x80\xaf",          // overlong 3-byte
    "\xf0\x80\x80\xaf",      // overlong 4-byte
    "\xff", "\xfe", "\xf5\x80\x80\x80",
    "\xe2\x82",              // cut short
    "\x80",                  // a lone continuation byte
    "a\xc3",                 // cut at the end
};

TEST(JsonUtf8, HardSequencesComeOutStrictAndAreFlagged) {
  for (const std::string& bad : kHard) {
    std::string out;
    EXPECT_TRUE(append_json_escaped(out, "/tmp/" + bad + "/x")) << testing::PrintToString(bad);
    EXPECT_TRUE(strict_utf8(out)) << testing::PrintToString(out);
    EXPECT_NE(out.find("\\\\x"), std::string::npos) << out;
  }
}

TEST(JsonUtf8, ValidTextIsKeptAsItIsAndNotFlagged) {
  std::string good = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xbf";  // é € 😀 ÿ
  std::string out;
  EXPECT_FALSE(append_json_escaped(out, good));
  EXPECT_EQ(out, good);
}

TEST(JsonUtf8, AByteFFIsNotTheCharacterYWithDiaeresis) {
  std::string byte, ch;
  EXPECT_TRUE(append_json_escaped(byte, "\xff"));
  EXPECT_FALSE(append_json_escaped(ch, "\xc3\xbf"));
  EXPECT_NE(byte, ch);
  EXPECT_EQ(byte, "\\\\xff");
}

}  // namespace
}  // namespace cgscope::trace
