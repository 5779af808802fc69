// file_write/file_read sums (src/trace/file_activity.h): by file, not by name.
#include "trace/file_activity.h"

#include <gtest/gtest.h>

namespace cgscope::trace {
namespace {

cgs_record call(uint32_t pid, uint64_t ts) {
  cgs_record h{};
  h.pid = h.tid = pid;
  h.ts_ns = ts;
  return h;
}

TEST(FileActivity, AFileRenamedWhileOpenIsOneFileUnderItsLastName) {
  FileActivity a(true, false);
  FileId id{0x803, 1234};
  a.on_transfer(call(7, 1), true, id, "/tmp/d/notes.txt", false, 4);
  a.on_transfer(call(7, 2), true, id, "/tmp/e/notes.txt", false, 4);
  a.on_transfer(call(7, 3), true, FileId{0x803, 99}, "/tmp/d/notes.txt", false, 1);  // another file, the old name
  a.on_closed(7, id.dev, id.ino, 5, "close");
  ASSERT_EQ(a.ready().size(), 1u);
  const FileEvent& e = a.ready()[0];
  EXPECT_EQ(e.path, "/tmp/e/notes.txt");
  EXPECT_EQ(e.hdr.args[0], 8u) << "bytes";
  EXPECT_EQ(e.hdr.args[1], 2u) << "calls";
  EXPECT_EQ(e.closed_by, "close");
  a.ready().clear();
  a.on_exit(7, 9);
  ASSERT_EQ(a.ready().size(), 1u);
  EXPECT_EQ(a.ready()[0].path, "/tmp/d/notes.txt");
  EXPECT_EQ(a.ready()[0].hdr.args[0], 1u);
  EXPECT_EQ(a.ready()[0].closed_by, "exit");
}

TEST(FileActivity, ReadsAndWritesOfOneFileAreTwoEventsAndOnlyWhatWasAskedIsKept) {
  FileActivity a(true, true);
  FileId id{1, 2};
  a.on_transfer(call(3, 1), true, id, "/f", false, 10);
  a.on_transfer(call(3, 2), false, id, "/f", false, 6);
  a.on_closed(3, 1, 2, 4, "close");
  ASSERT_EQ(a.ready().size(), 2u);
  EXPECT_EQ(a.ready()[0].hdr.nr + a.ready()[1].hdr.nr, unsigned(CGS_EV_FILE_WRITE + CGS_EV_FILE_READ));
  FileActivity writes_only(true, false);
  writes_only.on_transfer(call(3, 1), false, id, "/f", false, 6);
  writes_only.finish(5);
  EXPECT_TRUE(writes_only.ready().empty());
}

}  // namespace
}  // namespace cgscope::trace
