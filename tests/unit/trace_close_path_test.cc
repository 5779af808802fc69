// close's `path`: from the section its entry resolved when the kernel sent one
// for that fd, else from the fd table (bpf/lib/trace_close.bpf.h).
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "trace/file_tracker.h"

namespace cgscope::trace {
namespace {

// A close record of `fd`, with a file section of `kind` on argument 0 naming
// fd `section_fd` with the raw (leaf-first) path `raw`.
struct CloseRecord {
  cgs_record hdr{};
  std::vector<uint8_t> section;
  RecordView view;

  CloseRecord(int fd, uint8_t kind, int section_fd, std::string_view raw, uint16_t flags = 0) {
    hdr.nr = CGS_NR_CLOSE;
    hdr.pid = hdr.tid = 100;
    hdr.args[0] = uint64_t(uint32_t(fd));
    cgs_fd_path fp{};
    fp.fd = section_fd;
    fp.flags = flags;
    section.resize(sizeof(fp) + raw.size() + 1);
    std::memcpy(section.data(), &fp, sizeof(fp));
    std::memcpy(section.data() + sizeof(fp), raw.data(), raw.size());
    view.hdr = &hdr;
    view.vars[0].present = true;
    view.vars[0].kind = kind;
    view.vars[0].data = section;
  }
};

// The field `name` of the last on_syscall, as text ("null" for a null value).
std::string field(std::span<const NamedValue> fields, std::string_view name) {
  for (const auto& f : fields)
    if (f.name == name) return f.value.kind == ArgValue::Kind::null ? "null" : std::string(f.value.str);
  return "(absent)";
}

FileTracker tracker() {
  FileTracker::Needs n;
  n.close_paths = true;
  return FileTracker(n);
}

// A tracker whose table has fd 5 of task 100 as `path`, seen at generation `gen`.
FileTracker seeded(const std::string& path, uint32_t gen) {
  FileTracker t = tracker();
  FdEntry e;
  e.path = path;
  e.gen = gen;
  e.trusted = true;
  t.seed(100, 5, e);
  return t;
}

TEST(TraceClosePath, TheEntrySectionNamesTheFile) {
  FileTracker t = tracker();
  CloseRecord rec(5, CGS_ARG_FDPATH, 5, "hostname/etc");
  auto fields = t.on_syscall(rec.view, 0);
  EXPECT_EQ(field(fields, "path"), "/etc/hostname");
  EXPECT_EQ(field(fields, "path_unknown"), "(absent)");
}

TEST(TraceClosePath, TheEntrySectionWinsOverAStaleTableEntry) {
  FileTracker t = seeded("/a/out.txt", 7);  // the stamp below says 0: the name is stale
  CloseRecord rec(5, CGS_ARG_FDPATH, 5, "out.txt/b");
  EXPECT_EQ(field(t.on_syscall(rec.view, 0), "path"), "/b/out.txt");
  EXPECT_EQ(t.table().find(100, 100, 5), nullptr) << "the close still empties the slot";
}

TEST(TraceClosePath, ARacedEntryWalkIsNullWithItsReason) {
  FileTracker t = tracker();
  CloseRecord rec(5, CGS_ARG_FDPATH, 5, "x/tmp", CGS_FDPATH_F_RACED);
  auto fields = t.on_syscall(rec.view, 0);
  EXPECT_EQ(field(fields, "path"), "null");
  EXPECT_EQ(field(fields, "path_unknown"), "renamed while cgscope read it");
}

TEST(TraceClosePath, ASectionOfAnotherFdFallsBackToTheTable) {
  FileTracker t = seeded("/etc/passwd", 0);
  CloseRecord rec(5, CGS_ARG_FDPATH, 6, "x/tmp");
  EXPECT_EQ(field(t.on_syscall(rec.view, 0), "path"), "/etc/passwd") << "the table, its generation unmoved";
}

TEST(TraceClosePath, AStampOnlyRecordUsesTheTableWhenNothingMoved) {
  FileTracker t = seeded("/etc/passwd", 0);
  CloseRecord rec(5, CGS_ARG_FDCLOSE, 5, "");
  EXPECT_EQ(field(t.on_syscall(rec.view, 0), "path"), "/etc/passwd");
}

}  // namespace
}  // namespace cgscope::trace
