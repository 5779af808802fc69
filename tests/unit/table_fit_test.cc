// The table's width on a terminal: a row too wide loses the end of its ARGS,
// marked "…", keeps its " = RET", and is never cut inside a UTF-8 sequence.
#include <gtest/gtest.h>

#include <string>

#include "trace/format.h"

namespace cgscope::trace {
namespace {

// "PREFIX " + args + " = RET\n", fitted to `width`.
std::string fitted(std::string_view args, size_t width, std::string_view ret = " = 0") {
  std::string out = "keep this ";  // what the caller wrote before the row: untouched
  size_t row = out.size();
  out += "EVT ";
  size_t cut_from = out.size();
  out += args;
  size_t keep_from = out.size();
  out += ret;
  out += '\n';
  fit_row(out, row, cut_from, keep_from, width);
  EXPECT_EQ(out.substr(0, row), "keep this ");
  return out.substr(row);
}

TEST(FormatTableFit, ColumnsCountCharactersNotBytes) {
  EXPECT_EQ(text_columns(""), 0u);
  EXPECT_EQ(text_columns("abc"), 3u);
  EXPECT_EQ(text_columns("h\xc3\xa9llo"), 5u);        // é: 2 bytes
  EXPECT_EQ(text_columns("\xe2\x80\xa6"), 1u);        // …: 3 bytes
  EXPECT_EQ(text_columns("\xf0\x9f\x98\x80!"), 2u);  // an emoji: 4 bytes
}

TEST(FormatTableFit, RowThatFitsIsWhole) {
  EXPECT_EQ(fitted("a=1 b=2", 80), "EVT a=1 b=2 = 0\n");
  EXPECT_EQ(fitted("a=1 b=2", 15), "EVT a=1 b=2 = 0\n");  // exactly 15 columns
  EXPECT_EQ(fitted("a=1 b=2", 0), "EVT a=1 b=2 = 0\n");   // no limit: a file or a pipe
}

TEST(FormatTableFit, LongArgsCutWithAnEllipsisAndRetKept) {
  std::string row = fitted("a=1 b=2 c=3", 15);
  EXPECT_EQ(row, "EVT a=1 b=\xe2\x80\xa6 = 0\n");
  EXPECT_EQ(text_columns(row.substr(0, row.size() - 1)), 15u);
  // Every width gives at most `width` columns (when the fixed part fits).
  for (size_t w = 10; w < 20; w++) {
    std::string r = fitted("a=1 b=2 c=3 d=4", w);
    EXPECT_EQ(text_columns(r.substr(0, r.size() - 1)), w) << w << ": " << r;
    EXPECT_EQ(r.substr(r.size() - 5), " = 0\n");
  }
}

TEST(FormatTableFit, NeverCutsInsideAMultibyteCharacter) {
  // Each é is two bytes, each … three, the emoji four: whatever the width, the
  // row stays valid UTF-8 and the cut falls between characters.
  std::string args = "path=\"\xc3\xa9\xc3\xa9\xe2\x80\xa6\xf0\x9f\x98\x80\xc3\xa9x\"";
  for (size_t w = 9; w < 25; w++) {
    std::string r = fitted(args, w);
    std::string body = r.substr(4, r.size() - 4 - 5);  // between "EVT " and " = 0\n"
    ASSERT_GE(body.size(), 3u);
    size_t n = text_columns(body);
    if (n < text_columns(args)) {
      EXPECT_EQ(body.substr(body.size() - 3), "\xe2\x80\xa6") << w;
      std::string kept = body.substr(0, body.size() - 3);
      EXPECT_EQ(args.substr(0, kept.size()), kept) << w;
      // The next byte of the original starts a character.
      EXPECT_NE(static_cast<unsigned char>(args[kept.size()]) & 0xc0, 0x80) << w;
    }
  }
}

TEST(FormatTableFit, FixedPartWiderThanTheWidthLeavesOnlyTheEllipsis) {
  EXPECT_EQ(fitted("a=1 b=2", 6, " = -2 (ENOENT)"), "EVT \xe2\x80\xa6 = -2 (ENOENT)\n");
}

TEST(FormatTableFit, HeaderOfEachLayout) {
  std::string whole, wide, cut, narrow;
  append_table_header(whole);
  append_table_header(wide, 200);
  append_table_header(cut, 122);
  append_table_header(narrow, 80);
  EXPECT_EQ(whole, wide) << "a wide terminal has every column and every row whole";
  EXPECT_NE(whole.find("CONTAINER"), std::string::npos);
  EXPECT_EQ(text_columns(whole.substr(0, whole.size() - 1)), 85u);
  // Below 120 columns: TIME without the hour, a 6-character container id, COMM,
  // TID, EVENT, and room for ARGS.
  EXPECT_EQ(narrow.find("CONTAINER"), std::string::npos);
  EXPECT_EQ(narrow.substr(0, 17), "TIME      CTR ID ");
  EXPECT_EQ(narrow.find(" PID "), std::string::npos);
  EXPECT_NE(narrow.find(" TID "), std::string::npos);
  EXPECT_EQ(narrow.substr(narrow.size() - 11), "ARGS = RET\n");
  EXPECT_EQ(text_columns(narrow.substr(0, narrow.size() - 1)), 68u);
  EXPECT_EQ(cut, whole) << "85 columns fit in 122";
}

TEST(FormatTableFit, HeaderCutToANarrowWidth) {
  std::string h;
  append_table_header(h, 62);  // compact: 58 columns before ARGS
  EXPECT_EQ(text_columns(h.substr(0, h.size() - 1)), 62u);
  EXPECT_EQ(h.substr(h.size() - 7), "ARG\xe2\x80\xa6\n");
}

}  // namespace
}  // namespace cgscope::trace
