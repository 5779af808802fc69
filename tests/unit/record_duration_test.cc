// -T: the duration a record carries after its sections (CGS_REC_F_DURATION), as
// the decoder reads it and the formats show it.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "trace/decoder.h"
#include "trace/format.h"
#include "trace/schema.h"

namespace cgscope::trace {
namespace {

constexpr uint32_t kOpenat = 257;

// An openat record with its filename section, and the duration after it when given.
std::vector<uint8_t> openat_record(std::optional<uint64_t> ns) {
  std::string_view path("/etc/hostname", 14);  // NUL included
  std::vector<uint8_t> buf(sizeof(cgs_record));
  cgs_var v{1, CGS_ARG_STR, 0, uint32_t(path.size())};
  size_t off = buf.size();
  buf.resize(off + sizeof(v) + ((path.size() + 7) & ~size_t{7}));
  std::memcpy(buf.data() + off, &v, sizeof(v));
  std::memcpy(buf.data() + off + sizeof(v), path.data(), path.size());
  auto* h = reinterpret_cast<cgs_record*>(buf.data());
  h->nr = kOpenat;
  h->pid = h->tid = 42;
  h->nvar = 1;
  h->ret = 3;
  h->args[0] = uint64_t(-100);  // AT_FDCWD
  std::strcpy(h->comm, "cat");
  if (ns) {
    off = buf.size();
    buf.resize(off + sizeof(uint64_t));
    std::memcpy(buf.data() + off, &*ns, sizeof(uint64_t));
    reinterpret_cast<cgs_record*>(buf.data())->flags |= CGS_REC_F_DURATION;
  }
  reinterpret_cast<cgs_record*>(buf.data())->size = uint32_t(buf.size());
  return buf;
}

EventView view_of(const RecordView& rec) {
  return EventView{&rec, Schema::get().find(rec.hdr->nr), nullptr, rec.hdr->ret, true, 0, {}};
}

TEST(RecordDuration, ReadAfterTheSectionsWhichStayIntact) {
  auto bytes = openat_record(4321);
  auto rec = decode_record(bytes);
  ASSERT_TRUE(rec) << rec.error().message;
  EXPECT_TRUE(rec->has_duration);
  EXPECT_EQ(rec->duration_ns, 4321u);
  EXPECT_EQ(rec->vars[1].str(), "/etc/hostname");
  std::string json;
  append_json(json, view_of(*rec));
  auto j = nlohmann::json::parse(json);
  EXPECT_EQ(j["duration_ns"], 4321);
  EXPECT_EQ(j["args"]["filename"], "/etc/hostname");
  std::string row;
  append_table_row(row, view_of(*rec));
  EXPECT_NE(row.find(" = 3 <0.000004>\n"), std::string::npos) << row;
}

TEST(RecordDuration, AbsentWithoutTheFlag) {
  auto bytes = openat_record(std::nullopt);
  auto rec = decode_record(bytes);
  ASSERT_TRUE(rec) << rec.error().message;
  EXPECT_FALSE(rec->has_duration);
  std::string json;
  append_json(json, view_of(*rec));
  EXPECT_FALSE(nlohmann::json::parse(json).contains("duration_ns")) << json;
}

TEST(RecordDuration, FlagOnARecordWithNoRoomIsAnError) {
  std::vector<uint8_t> buf(sizeof(cgs_record));
  auto* h = reinterpret_cast<cgs_record*>(buf.data());
  h->nr = kOpenat;
  h->size = uint32_t(buf.size());
  h->flags = CGS_REC_F_DURATION;
  EXPECT_FALSE(decode_record(buf));
}

}  // namespace
}  // namespace cgscope::trace
