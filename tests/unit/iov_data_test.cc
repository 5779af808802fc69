// The iovecs' contents (a CGS_ARG_IOVDATA section, as bpf/lib/trace_iovdata.bpf.h
// writes it) shown in the iovec array as strace shows them, and sections no
// kernel wrote (counts or lengths past the bytes) giving no contents at all.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "cgscope/abi/trace.h"
#include "trace/decode_struct.h"
#include "trace/iov_data.h"

namespace cgscope::trace {
namespace {

// A section of elements {want, kept bytes}.
std::vector<uint8_t> section(const std::vector<std::pair<uint32_t, std::string>>& elems) {
  cgs_iov_data d{};
  d.n = uint32_t(elems.size());
  std::string bytes;
  for (size_t i = 0; i < elems.size(); i++) {
    d.e[i].want = elems[i].first;
    d.e[i].kept = uint32_t(elems[i].second.size());
    bytes += elems[i].second;
  }
  std::vector<uint8_t> b(sizeof d + bytes.size());
  std::memcpy(b.data(), &d, sizeof d);
  if (!bytes.empty()) std::memcpy(b.data() + sizeof d, bytes.data(), bytes.size());
  return b;
}

// An iovec array of (base, len) pairs.
std::vector<uint8_t> iovecs(const std::vector<std::pair<uint64_t, uint64_t>>& v) {
  std::vector<uint8_t> b(v.size() * 16);
  for (size_t i = 0; i < v.size(); i++) {
    std::memcpy(b.data() + 16 * i, &v[i].first, 8);
    std::memcpy(b.data() + 16 * i + 8, &v[i].second, 8);
  }
  return b;
}

std::string shown(const std::vector<uint8_t>& vec, const std::vector<uint8_t>& data, bool json) {
  std::string out;
  StructOut o(out, json);
  IovData iov(data);
  EXPECT_TRUE(decode_struct(o, ArgFormat::iovec_array, vec, 11, false, &iov));
  return out;
}

TEST(IovData, ElementsAreStracesStringsCutWhereTheKernelCutThem) {
  auto vec = iovecs({{0x1000, 5}, {0x2000, 6}});
  auto data = section({{5, "hel"}, {6, " world"}});
  EXPECT_EQ(shown(vec, data, false), R"([{iov_base="hel"..., iov_len=5}, {iov_base=" world", iov_len=6}])");
  EXPECT_EQ(shown(vec, data, true),
            R"([{"iov_base":"0x1000","iov_data":"hel...","iov_len":5},{"iov_base":"0x2000","iov_data":" world","iov_len":6}])");
}

TEST(IovData, ElementsPastThoseKeptShowTheirAddress) {
  // The section kept one (the next had no room, or could not be read); an
  // element the data did not reach is kept empty, as strace shows it.
  auto vec = iovecs({{0x1000, 3}, {0x2000, 20}});
  EXPECT_EQ(shown(vec, section({{3, "abc"}}), false), R"([{iov_base="abc", iov_len=3}, {iov_base=0x2000, iov_len=20}])");
  EXPECT_EQ(shown(vec, section({{3, "abc"}, {0, ""}}), false), R"([{iov_base="abc", iov_len=3}, {iov_base="", iov_len=20}])");
}

TEST(IovData, ANullBaseIsNullAsStraceShowsIt) {
  auto vec = iovecs({{0, 0}});
  EXPECT_EQ(shown(vec, section({{0, ""}}), false), R"([{iov_base=NULL, iov_len=0}])");
  EXPECT_EQ(shown(vec, section({{0, ""}}), true), R"([{"iov_base":null,"iov_len":0}])");
}

TEST(IovData, BytesThatAreNotUtf8HaveTheirExactBytesBeside) {
  auto vec = iovecs({{0x1000, 2}});
  EXPECT_EQ(shown(vec, section({{2, "\xff\xfe"}}), true),
            R"([{"iov_base":"0x1000","iov_data":"\\xff\\xfe","iov_data_raw":"//4=","iov_len":2}])");
}

TEST(IovData, MalformedSectionsGiveNoContents) {
  auto vec = iovecs({{0x1000, 5}});
  const std::string address = R"([{iov_base=0x1000, iov_len=5}])";
  // Kept bytes past the section's end.
  auto past = section({{5, "hello"}});
  past.resize(past.size() - 1);
  EXPECT_EQ(shown(vec, past, false), address);
  // More kept than the element moved.
  EXPECT_EQ(shown(vec, section({{2, "hello"}}), false), address);
  // A count past CGS_IOV_DATA_MAX.
  auto many = section({{5, "hello"}});
  uint32_t n = CGS_IOV_DATA_MAX + 1;
  std::memcpy(many.data(), &n, sizeof n);
  EXPECT_EQ(shown(vec, many, false), address);
  // Shorter than its header.
  EXPECT_EQ(shown(vec, std::vector<uint8_t>(8), false), address);
  EXPECT_FALSE(IovData(std::vector<uint8_t>(8)).element(0));
}

}  // namespace
}  // namespace cgscope::trace
