// The decoder and the JSON/table formatting, on records built here the way the
// kernel builds them.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "trace/arg_limits.h"
#include "trace/decoder.h"
#include "trace/format.h"
#include "trace/schema.h"

namespace cgscope::trace {
namespace {

// Builds a record: header, then sections (arg, kind, bytes, flags), 8-aligned.
class RecordBuilder {
 public:
  explicit RecordBuilder(uint32_t nr) {
    buf_.resize(sizeof(cgs_record));
    hdr().nr = nr;
    hdr().pid = 42;
    hdr().tid = 43;
    hdr().ppid = 1;
    hdr().cgroup_id = 7;
    std::strcpy(hdr().comm, "cat");
  }
  RecordBuilder& arg(int i, uint64_t v) {
    hdr().args[i] = v;
    return *this;
  }
  RecordBuilder& ret(int64_t v) {
    hdr().ret = v;
    return *this;
  }
  RecordBuilder& section(uint8_t arg, uint8_t kind, std::string_view bytes, uint16_t flags = 0) {
    cgs_var v{arg, kind, flags, static_cast<uint32_t>(bytes.size())};
    size_t off = buf_.size();
    buf_.resize(off + sizeof(v) + ((bytes.size() + 7) & ~size_t{7}));
    std::memcpy(buf_.data() + off, &v, sizeof(v));
    std::memcpy(buf_.data() + off + sizeof(v), bytes.data(), bytes.size());
    hdr().nvar++;
    return *this;
  }
  std::vector<uint8_t> bytes() {
    hdr().size = static_cast<uint32_t>(buf_.size());
    return buf_;
  }

 private:
  cgs_record& hdr() { return *reinterpret_cast<cgs_record*>(buf_.data()); }
  std::vector<uint8_t> buf_;
};

nlohmann::json to_json(const std::vector<uint8_t>& bytes) {
  auto rec = decode_record(bytes);
  if (!rec) {
    ADD_FAILURE() << rec.error().message;
    return nlohmann::json();
  }
  EventView ev{&*rec, Schema::get().find(rec->hdr->nr), nullptr, rec->hdr->ret, true, 1000};
  std::string out;
  append_json(out, ev);
  EXPECT_EQ(out.back(), '\n');
  return nlohmann::json::parse(out);
}

TEST(Record, APathOrArgvThatIsNotUtf8ComesWithItsExactBytes) {
  std::string path("/tmp/\xc0\xaf\xed\xa0\x80\xff", 11);
  auto b = RecordBuilder(257)
               .arg(0, uint64_t(-100))
               .section(1, CGS_ARG_STR, path + std::string(1, '\0'))
               .ret(3);
  nlohmann::json j = to_json(b.bytes());
  EXPECT_EQ(j["args"]["filename"], "/tmp/\\xc0\\xaf\\xed\\xa0\\x80\\xff");
  EXPECT_EQ(j["args"]["filename_raw"], base64(path));
  auto e = RecordBuilder(59).section(1, CGS_ARG_STRARR, std::string("ok\0b\xfe\0", 6)).ret(0);
  nlohmann::json je = to_json(e.bytes());
  EXPECT_EQ(je["args"]["argv"][1], "b\\xfe");
  EXPECT_TRUE(je["args"]["argv_raw"][0].is_null());
  EXPECT_EQ(je["args"]["argv_raw"][1], base64("b\xfe"));
}

TEST(Record, ACutListAndItsRawCompanionHaveOneEntryPerElement) {
  auto e = RecordBuilder(59).section(1, CGS_ARG_STRARR, std::string("b\xfe\0c\0", 5), CGS_VAR_F_TRUNCATED).ret(0);
  nlohmann::json j = to_json(e.bytes());
  ASSERT_EQ(j["args"]["argv"].size(), 3u) << j.dump();
  EXPECT_EQ(j["args"]["argv"][2], "...");
  ASSERT_EQ(j["args"]["argv_raw"].size(), 3u) << j.dump();
  EXPECT_TRUE(j["args"]["argv_raw"][2].is_null());
}

TEST(Record, OpenatDecodesPathFlagsAndDirfd) {
  auto b = RecordBuilder(257)
               .arg(0, uint64_t(-100))
               .arg(1, 0x7ffd0000)
               .arg(2, 02000000)  // O_RDONLY|O_CLOEXEC
               .ret(3)
               .section(1, CGS_ARG_STR, std::string_view("/etc/hosts\0", 11))
               .bytes();
  auto j = to_json(b);
  EXPECT_EQ(j["event"], "openat");
  EXPECT_EQ(j["id"], 257);
  EXPECT_EQ(j["args"]["dfd"], "AT_FDCWD");
  EXPECT_EQ(j["args"]["filename"], "/etc/hosts");
  EXPECT_EQ(j["args"]["flags"], "O_RDONLY|O_CLOEXEC");
  EXPECT_EQ(j["ret"], 3);
  EXPECT_EQ(j["comm"], "cat");
  EXPECT_TRUE(j["container_id"].is_null());
  EXPECT_FALSE(j.contains("error"));
}

TEST(Record, FailedSyscallNamesTheErrno) {
  auto j = to_json(RecordBuilder(257).ret(-13).section(1, CGS_ARG_STR, std::string_view("/x\0", 3)).bytes());
  EXPECT_EQ(j["ret"], -13);
  EXPECT_EQ(j["error"], "EACCES");
}

TEST(Record, TruncatedValuesCarryTheMarker) {
  auto j = to_json(RecordBuilder(59)
                       .section(0, CGS_ARG_STR, std::string_view("/bin/true\0", 10))
                       .section(1, CGS_ARG_STRARR, std::string_view("a\0b\0", 4), CGS_VAR_F_TRUNCATED)
                       .bytes());
  EXPECT_EQ(j["args"]["argv"], nlohmann::json::array({"a", "b", "..."}));
  auto k = to_json(RecordBuilder(257).section(1, CGS_ARG_STR, "/very/lo", CGS_VAR_F_TRUNCATED).bytes());
  EXPECT_EQ(k["args"]["filename"], "/very/lo...");
}

TEST(Record, AnElementCutAtTheStringLimitIsMarkedAndTheNextOnesKept) {
  // The kernel kept one byte more than -s 3 of the cut elements (capture.bpf.h).
  set_arg_limits(ArgLimits{.elem_keep = 3});
  auto e = RecordBuilder(59).section(1, CGS_ARG_STRARR, std::string("abcd\0ab\0abc\0", 12), CGS_VAR_F_ELEM_KEEP);
  nlohmann::json j = to_json(e.bytes());
  set_arg_limits(ArgLimits{});
  EXPECT_EQ(j["args"]["argv"], nlohmann::json::array({"abc...", "ab", "abc"}));
  // Without the flag (the exec event's block, never cut per element) nothing is cut.
  set_arg_limits(ArgLimits{.elem_keep = 3});
  auto f = RecordBuilder(59).section(1, CGS_ARG_STRARR, std::string("abcd\0", 5));
  nlohmann::json k = to_json(f.bytes());
  set_arg_limits(ArgLimits{});
  EXPECT_EQ(k["args"]["argv"], nlohmann::json::array({"abcd"}));
}

TEST(Record, AStructSectionIsAnObjectAndAFaultTheAddress) {
  std::string st(144, '\0');
  uint32_t mode = 0100644;
  int64_t size = 1284;
  std::memcpy(st.data() + 24, &mode, 4);
  std::memcpy(st.data() + 48, &size, 8);
  uint8_t out = CGS_ARG_STRUCT;
  auto j = to_json(RecordBuilder(4).arg(1, 0x7ffd1000).section(1, out, st).ret(0).bytes());
  EXPECT_EQ(j["args"]["statbuf"]["st_mode"], "S_IFREG|0644") << j.dump();
  EXPECT_EQ(j["args"]["statbuf"]["st_size"], 1284);
  auto f = to_json(RecordBuilder(4).arg(1, 0x7ffd1000).section(1, out, "", CGS_VAR_F_FAULT).ret(-14).bytes());
  EXPECT_EQ(f["args"]["statbuf"], "0x7ffd1000");
  auto n = to_json(RecordBuilder(4).arg(1, 0x7ffd1000).ret(-2).bytes());  // failed: not read
  EXPECT_EQ(n["args"]["statbuf"], "0x7ffd1000");
  auto z = to_json(RecordBuilder(4).ret(-14).bytes());
  EXPECT_TRUE(z["args"]["statbuf"].is_null()) << "NULL, as for every pointer";
}

TEST(Record, ArgvBlockWithoutTrailingNulKeepsTheLastElement) {
  auto j = to_json(RecordBuilder(CGS_EV_PROCESS_EXEC)
                       .section(0, CGS_ARG_STR, std::string_view("/bin/ls\0", 8))
                       .section(1, CGS_ARG_STRARR, std::string_view("ls\0-l", 5))
                       .arg(2, 42)
                       .bytes());
  EXPECT_EQ(j["event"], "sched_process_exec");
  EXPECT_EQ(j["args"]["argv"], nlohmann::json::array({"ls", "-l"}));
  EXPECT_EQ(j["args"]["old_pid"], 42);
}

TEST(Record, ConnectSockaddrIsAnObject) {
  const uint8_t sin[16] = {2, 0, 0x1f, 0x90, 127, 0, 0, 1};  // AF_INET 127.0.0.1:8080
  auto j = to_json(RecordBuilder(42)
                       .arg(0, 3)
                       .arg(2, 16)
                       .section(1, CGS_ARG_SOCKADDR, std::string_view(reinterpret_cast<const char*>(sin), 16))
                       .bytes());
  EXPECT_EQ(j["event"], "connect");
  EXPECT_EQ(j["args"]["fd"], 3);
  EXPECT_EQ(j["args"]["uservaddr"]["family"], "AF_INET");
  EXPECT_EQ(j["args"]["uservaddr"]["address"], "127.0.0.1");
  EXPECT_EQ(j["args"]["uservaddr"]["port"], 8080);
}

TEST(Record, UnknownSyscallGetsGenericArgs) {
  auto j = to_json(RecordBuilder(511).arg(0, 5).bytes());
  EXPECT_EQ(j["event"], "syscall_511");
  EXPECT_TRUE(j["args"].contains("arg0"));
}

TEST(Record, JsonStaysValidForAnyBytes) {
  std::string weird("a\"b\\c\n\x01\xff\xc3\xa9", 10);
  weird.push_back('\0');
  auto j = to_json(RecordBuilder(257).section(1, CGS_ARG_STR, weird).bytes());
  // The stray 0xff as \xff (not U+00FF, which is a character), and the exact bytes.
  EXPECT_EQ(j["args"]["filename"], "a\"b\\c\n\x01\\xff\xc3\xa9");
  EXPECT_EQ(j["args"]["filename_raw"], base64(weird.substr(0, 10)));
}

TEST(Record, RejectsRecordsThatLieAboutTheirSize) {
  auto b = RecordBuilder(257).section(1, CGS_ARG_STR, "/etc/hosts").bytes();
  auto short_copy = b;
  short_copy.resize(b.size() - 8);
  EXPECT_FALSE(decode_record(short_copy).has_value());
  auto bad_len = b;
  reinterpret_cast<cgs_var*>(bad_len.data() + sizeof(cgs_record))->len = 1000;
  EXPECT_FALSE(decode_record(bad_len).has_value());
  auto bad_arg = b;
  reinterpret_cast<cgs_var*>(bad_arg.data() + sizeof(cgs_record))->arg = 9;
  EXPECT_FALSE(decode_record(bad_arg).has_value());
  EXPECT_FALSE(decode_record(std::span<const uint8_t>(b.data(), 10)).has_value());
}

TEST(Record, TableRowShowsHostAndErrno) {
  auto b = RecordBuilder(257).ret(-2).section(1, CGS_ARG_STR, std::string_view("/nope\0", 6)).bytes();
  auto rec = decode_record(b);
  ASSERT_TRUE(rec.has_value());
  EventView ev{&*rec, Schema::get().find(257), nullptr, -2, true, 0};
  std::string out;
  append_table_row(out, ev);
  EXPECT_NE(out.find(" host "), std::string::npos) << out;
  EXPECT_NE(out.find("filename=\"/nope\""), std::string::npos) << out;
  EXPECT_NE(out.find("= -2 (ENOENT)"), std::string::npos) << out;
}

TEST(Schema, KernelKindsMatchTheClassifier) {
  auto k = Schema::get().kernel_kinds(257);  // openat: filename is a string
  EXPECT_EQ(CGS_KIND(k[1]), CGS_ARG_STR);
  EXPECT_EQ(CGS_KIND(k[0]), CGS_ARG_DIRPATH);  // dfd: its directory, when filename is relative
  EXPECT_EQ(CGS_LEN_ARG(k[0]), 1);
  auto c = Schema::get().kernel_kinds(42);  // connect: sockaddr with addrlen in arg 2
  EXPECT_EQ(CGS_KIND(c[1]), CGS_ARG_SOCKADDR);
  EXPECT_EQ(CGS_LEN_ARG(c[1]), 2);
  auto w = Schema::get().kernel_kinds(1);  // write: buffer, length in arg 2
  EXPECT_EQ(CGS_KIND(w[1]), CGS_ARG_BUF);
  EXPECT_EQ(CGS_LEN_ARG(w[1]), 2);
}

// ia32 records (include/cgscope/abi/trace.h: CGS_IA32_NR_BASE + i386 number):
// the bare name, "abi":"ia32", the i386 number, signed 32-bit values widened.
TEST(Record, Ia32OpenatShowsItsAbiAndI386Number) {
  auto b = RecordBuilder(CGS_IA32_NR_BASE + 295)
               .arg(0, 0xffffff9c)  // AT_FDCWD as the kernel sends it: 32 bits, zero-extended
               .arg(2, 0)
               .ret(-2)
               .section(1, CGS_ARG_STR, std::string_view("/etc/hostname\0", 14))
               .bytes();
  auto j = to_json(b);
  EXPECT_EQ(j["event"], "openat");
  EXPECT_EQ(j["abi"], "ia32");
  EXPECT_EQ(j["id"], 295);
  EXPECT_EQ(j["args"]["dfd"], "AT_FDCWD");
  EXPECT_EQ(j["args"]["filename"], "/etc/hostname");
  EXPECT_EQ(j["error"], "ENOENT");
  auto x = to_json(RecordBuilder(257).section(1, CGS_ARG_STR, std::string_view("/x\0", 3)).bytes());
  EXPECT_FALSE(x.contains("abi"));  // x86_64 records are unchanged
}

TEST(Record, Ia32TableRowIsQualified) {
  auto b = RecordBuilder(CGS_IA32_NR_BASE + 5).ret(3).section(0, CGS_ARG_STR, std::string_view("/e\0", 3)).bytes();
  auto rec = decode_record(b);
  ASSERT_TRUE(rec.has_value());
  EventView ev{&*rec, Schema::get().find(rec->hdr->nr), nullptr, 3, true, 0};
  std::string out;
  append_table_row(out, ev);
  EXPECT_NE(out.find("ia32:open"), std::string::npos) << out;
  EXPECT_NE(out.find("filename=\"/e\""), std::string::npos) << out;
  auto u = RecordBuilder(CGS_IA32_NR_BASE + 511).ret(0).bytes();
  auto urec = decode_record(u);
  ASSERT_TRUE(urec.has_value());
  EventView uev{&*urec, Schema::get().find(urec->hdr->nr), nullptr, 0, true, 0};
  out.clear();
  append_table_row(out, uev);
  EXPECT_NE(out.find("ia32:syscall_511"), std::string::npos) << out;
}

}  // namespace
}  // namespace cgscope::trace
