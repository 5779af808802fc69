// select/pselect6's section (struct cgs_select, as bpf/lib/trace_select.bpf.h
// writes it): the sets and the timeout as strace shows them, the return's text,
// and sections that cannot say (no entry seen, a set not read, too short).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "cgscope/abi/trace.h"
#include "trace/decode_select.h"
#include "trace/decode_struct.h"

namespace cgscope::trace {
namespace {

std::vector<uint8_t> bytes(const cgs_select& s) {
  std::vector<uint8_t> b(sizeof s);
  std::memcpy(b.data(), &s, sizeof s);
  return b;
}

// pselect6(5, [3], [4], NULL, {1, 0}) that found both ready with 0.5 s left.
cgs_select both_ready() {
  cgs_select s{};
  s.have_entry = 1;
  s.in.nfds = s.out.nfds = 5;
  s.in.flags = s.out.flags = CGS_SEL_SET(0) | CGS_SEL_SET(1) | CGS_SEL_TIMEOUT;
  s.in.sets[0][0] = s.out.sets[0][0] = 1u << 3;
  s.in.sets[1][0] = s.out.sets[1][0] = 1u << 4;
  s.in.timeout[0] = 1;
  s.out.timeout[1] = 500000000;
  return s;
}

std::string arg(const cgs_select& s, ArgFormat f, bool json = false) {
  std::string out;
  StructOut o(out, json);
  if (!decode_struct(o, f, bytes(s), 2)) return "(address)";
  return out;
}

std::string ret(const cgs_select& s, int64_t r, bool timespec = true) {
  std::string out;
  if (!append_select_ret(out, bytes(s), r, timespec)) return "(none)";
  return out;
}

TEST(DecodeSelect, ArgumentsAsTheCallWasGivenThem) {
  cgs_select s = both_ready();
  EXPECT_EQ(arg(s, ArgFormat::fd_set_read), "[3]");
  EXPECT_EQ(arg(s, ArgFormat::fd_set_write), "[4]");
  EXPECT_EQ(arg(s, ArgFormat::fd_set_except), "(address)") << "not read: the address";
  EXPECT_EQ(arg(s, ArgFormat::select_timespec), "{tv_sec=1, tv_nsec=0}");
  EXPECT_EQ(arg(s, ArgFormat::select_timeval), "{tv_sec=1, tv_usec=0}");
  EXPECT_EQ(arg(s, ArgFormat::fd_set_read, true), "[3]");
  EXPECT_EQ(arg(s, ArgFormat::select_timespec, true), R"({"tv_sec":1,"tv_nsec":0})");
}

TEST(DecodeSelect, OnlyFdsBelowNfdsAndACutPastFdSetsize) {
  cgs_select s = both_ready();
  s.in.sets[0][0] = (1u << 0) | (1u << 2) | (1u << 7);  // 7 >= nfds: the program's stray bits
  EXPECT_EQ(arg(s, ArgFormat::fd_set_read), "[0 2]");
  s.in.nfds = 5000;
  s.in.flags |= CGS_SEL_NFDS_CUT;
  s.in.sets[0][15] = uint64_t{1} << 63;  // fd 1023
  EXPECT_EQ(arg(s, ArgFormat::fd_set_read), "[0 2 7 1023 ...]");
  EXPECT_EQ(arg(s, ArgFormat::fd_set_read, true), R"([0,2,7,1023,"..."])");
}

TEST(DecodeSelect, ReturnTextIsStraces) {
  cgs_select s = both_ready();
  EXPECT_EQ(ret(s, 2), "in [3], out [4], left {tv_sec=0, tv_nsec=500000000}");
  EXPECT_EQ(ret(s, 2, false), "in [3], out [4], left {tv_sec=0, tv_usec=500000000}");
  EXPECT_EQ(ret(s, 0), "Timeout");
  EXPECT_EQ(ret(s, -4), "(none)");
  s.out.sets[1][0] = 0;  // write end not ready: not listed
  s.out.flags &= ~CGS_SEL_TIMEOUT;
  EXPECT_EQ(ret(s, 1), "in [3]");
}

TEST(DecodeSelect, SectionsThatCannotSayGiveTheAddress) {
  cgs_select s = both_ready();
  s.have_entry = 0;  // a call already waiting when the trace began
  EXPECT_EQ(arg(s, ArgFormat::fd_set_read), "(address)");
  EXPECT_EQ(ret(s, 2), "in [3], out [4], left {tv_sec=0, tv_nsec=500000000}") << "the exit side stands alone";
  std::string out;
  StructOut o(out, false);
  EXPECT_FALSE(decode_struct(o, ArgFormat::fd_set_read, std::vector<uint8_t>(sizeof(cgs_select) - 1), 2));
  EXPECT_FALSE(append_select_ret(out, std::vector<uint8_t>(8), 2, true));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace cgscope::trace
