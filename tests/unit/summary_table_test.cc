#include "trace/summary_table.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "trace/syscall_time.h"

namespace cgscope::trace {
namespace {

std::string name_of(uint32_t nr) { return nr == 0 ? "read" : nr == 1 ? "write" : nr == 2 ? "open" : "syscall_" + std::to_string(nr); }

TEST(SummaryRows, MostTimeFirstThenCallsThenName) {
  std::vector<SummaryInput> in = {{0, 10, 0, 5000}, {1, 3, 1, 9000}, {2, 7, 0, 5000}, {3, 7, 0, 5000}, {4, 0, 0, 0}};
  auto rows = summary_rows(in, name_of);
  ASSERT_EQ(rows.size(), 4u) << "a syscall never called has no row";
  EXPECT_EQ(rows[0].name, "write");
  EXPECT_EQ(rows[1].name, "read") << "equal time: more calls first";
  EXPECT_EQ(rows[2].name, "open") << "equal time and calls: by name";
  EXPECT_EQ(rows[3].name, "syscall_3");
}

TEST(SummaryTable, StraceCLayout) {
  std::vector<SummaryRow> rows = {{"openat", 30, 13, 60000}, {"read", 10, 0, 20000}};
  EXPECT_EQ(format_summary_table(rows),
            "% time     seconds  usecs/call     calls    errors syscall\n"
            "------ ----------- ----------- --------- --------- ----------------\n"
            " 75.00    0.000060           2        30        13 openat\n"
            " 25.00    0.000020           2        10           read\n"
            "------ ----------- ----------- --------- --------- ----------------\n"
            "100.00    0.000080           2        40        13 total\n");
}

TEST(SummaryTable, NothingCalledIsAnEmptyTableWithZeroTotal) {
  std::string t = format_summary_table({});
  EXPECT_NE(t.find("  0.00    0.000000           0         0           total\n"), std::string::npos) << t;
}

TEST(SummaryJson, OneObjectWithRowsAndTotal) {
  std::vector<SummaryRow> rows = {{"openat", 30, 13, 60000}, {"read", 10, 0, 20000}};
  std::string s = format_summary_json(rows);
  ASSERT_EQ(s.back(), '\n');
  auto j = nlohmann::json::parse(s);
  ASSERT_EQ(j["summary"].size(), 2u);
  EXPECT_EQ(j["summary"][0]["syscall"], "openat");
  EXPECT_EQ(j["summary"][0]["calls"], 30);
  EXPECT_EQ(j["summary"][0]["errors"], 13);
  EXPECT_EQ(j["summary"][0]["usecs_per_call"], 2);
  EXPECT_DOUBLE_EQ(j["summary"][0]["percent_time"].get<double>(), 75.0);
  EXPECT_DOUBLE_EQ(j["summary"][1]["seconds"].get<double>(), 0.00002);
  EXPECT_EQ(j["total"]["calls"], 40);
  EXPECT_EQ(j["total"]["errors"], 13);
}

TEST(SyscallTime, SecondsWithMicroseconds) {
  std::string s;
  append_duration_text(s, 4321);
  append_duration_text(s, 1'050'123'999);
  EXPECT_EQ(s, " <0.000004> <1.050123>");
}

}  // namespace
}  // namespace cgscope::trace
