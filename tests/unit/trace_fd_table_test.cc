// The fd table (what each fd of each task refers to) and the file sections'
// rules: the parts of path tracking that need no kernel. The records in the
// FileTracker tests are made here the way bpf/lib/trace_fd.bpf.h makes them.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "trace/event_select.h"
#include "trace/event_table.h"
#include "trace/fd_table.h"
#include "trace/file_path.h"
#include "trace/file_tracker.h"

namespace cgscope::trace {
namespace {

// A stand-in for the kernel's (dev, ino) of a file: one per path here.
uint64_t ino_of(const std::string& path) { return std::hash<std::string>{}(path) | 1; }

FdEntry entry(std::string path, Cloexec c = Cloexec::no) {
  FdEntry e;
  e.dev = 1;
  e.ino = ino_of(path);
  e.path = std::move(path);
  e.trusted = true;
  e.cloexec = c;
  return e;
}

std::string path_of(const FdTable& t, uint32_t pid, uint32_t tid, int fd) {
  const FdEntry* e = t.find(pid, tid, fd);
  return e ? e->path : "(none)";
}

TEST(FdTable, DupCopiesTheFileWithItsOwnCloexec) {
  FdTable t;
  t.set(10, 10, 3, entry("/a", Cloexec::yes));
  t.dup(10, 10, 3, 4, Cloexec::no);
  EXPECT_EQ(path_of(t, 10, 10, 4), "/a");
  EXPECT_EQ(t.find(10, 10, 4)->cloexec, Cloexec::no);
  EXPECT_EQ(t.find(10, 10, 3)->cloexec, Cloexec::yes);
  // A copy of an fd the table does not know leaves the target unknown too.
  t.set(10, 10, 7, entry("/old"));
  t.dup(10, 10, 99, 7, Cloexec::no);
  EXPECT_EQ(t.find(10, 10, 7), nullptr);
}

TEST(FdTable, Dup2OverAnOpenFdReplacesIt) {
  FdTable t;
  t.set(10, 10, 3, entry("/a"));
  t.set(10, 10, 5, entry("/b"));
  t.dup(10, 10, 3, 5, Cloexec::no);
  EXPECT_EQ(path_of(t, 10, 10, 5), "/a");
  EXPECT_FALSE(t.refers_to(10, 10, 1, ino_of("/b")));
  EXPECT_TRUE(t.refers_to(10, 10, 1, ino_of("/a"), 5)) << "fd 3 still has /a";
}

TEST(FdTable, CloseForgetsAndReturnsWhatItWas) {
  FdTable t;
  t.set(10, 10, 3, entry("/a"));
  auto e = t.close(10, 10, 3);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, "/a");
  EXPECT_EQ(t.find(10, 10, 3), nullptr);
  EXPECT_FALSE(t.close(10, 10, 3)) << "a second close knows nothing";
  // The number is reused by the next open.
  t.set(10, 10, 3, entry("/c"));
  EXPECT_EQ(path_of(t, 10, 10, 3), "/c");
}

TEST(FdTable, ForkCopiesTheTableButCloneFilesSharesIt) {
  FdTable t;
  t.set(10, 10, 3, entry("/a"));
  t.on_fork(10, 10, 20, 20, false);  // fork: a copy
  t.on_fork(10, 10, 30, 30, true);   // clone(CLONE_FILES): the same table
  EXPECT_EQ(path_of(t, 20, 20, 3), "/a");
  t.close(20, 20, 3);
  EXPECT_EQ(path_of(t, 10, 10, 3), "/a") << "the copy's close is its own";
  t.set(10, 10, 4, entry("/b"));
  EXPECT_EQ(t.find(20, 20, 4), nullptr) << "opened after the fork: not in the copy";
  EXPECT_EQ(path_of(t, 30, 30, 4), "/b") << "the shared table sees it";
  t.close(30, 30, 3);
  EXPECT_EQ(t.find(10, 10, 3), nullptr) << "and its close is the parent's too";
  EXPECT_EQ(t.tables(), 2u);
}

TEST(FdTable, ThreadsShareTheirProcessTable) {
  FdTable t;
  t.set(10, 10, 3, entry("/a"));
  t.on_fork(10, 10, 10, 11, true);  // pthread_create
  EXPECT_EQ(path_of(t, 10, 11, 3), "/a");
  t.set(10, 11, 4, entry("/b"));
  EXPECT_EQ(path_of(t, 10, 10, 4), "/b");
  // A thread that existed before the trace uses its process's table.
  EXPECT_EQ(path_of(t, 10, 12, 4), "/b");
  t.on_unshare(10, 11);  // unshare(CLONE_FILES) in one thread
  t.close(10, 11, 3);
  EXPECT_EQ(path_of(t, 10, 10, 3), "/a");
}

TEST(FdTable, ExecClosesCloseOnExecAndUnknownFds) {
  FdTable t;
  t.set(10, 10, 3, entry("/cloexec", Cloexec::yes));
  t.set(10, 10, 4, entry("/kept", Cloexec::no));
  t.set(10, 10, 5, entry("/unknown", Cloexec::unknown));
  t.on_fork(10, 10, 10, 11, true);
  auto closed = t.on_exec(10, 11);  // a non-leader thread execs and takes the pid
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(path_of(t, 10, 10, 4), "/kept");
  EXPECT_EQ(t.find(10, 10, 3), nullptr);
  EXPECT_EQ(t.find(10, 10, 5), nullptr) << "not known to survive: forgotten, never guessed";
  EXPECT_EQ(t.tasks(), 1u);
}

TEST(FdTable, ExecUnsharesATableSharedWithAnotherProcess) {
  FdTable t;
  t.set(10, 10, 4, entry("/kept"));
  t.on_fork(10, 10, 20, 20, true);
  t.on_exec(20, 20);
  t.close(10, 10, 4);
  EXPECT_EQ(path_of(t, 20, 20, 4), "/kept");
}

TEST(FdTable, CloseRangeClosesOrOnlyFlags) {
  FdTable t;
  for (int fd = 3; fd < 8; fd++) t.set(10, 10, fd, entry("/f" + std::to_string(fd)));
  auto gone = t.close_range(10, 10, 5, ~0u, false);
  EXPECT_EQ(gone.size(), 3u);
  EXPECT_EQ(path_of(t, 10, 10, 4), "/f4");
  t.close_range(10, 10, 0, 3, true);
  EXPECT_EQ(t.find(10, 10, 3)->cloexec, Cloexec::yes);
  EXPECT_EQ(t.find(10, 10, 4)->cloexec, Cloexec::no);
}

TEST(FdTable, ExitForgetsTheProcessAndAReusedTidStartsOver) {
  FdTable t;
  t.set(10, 10, 3, entry("/a"));
  t.on_fork(10, 10, 10, 11, true);
  t.on_exit(10);
  EXPECT_EQ(t.tasks(), 0u);
  t.on_fork(50, 50, 60, 11, false);  // tid 11 reused by another process's child
  EXPECT_EQ(t.find(60, 11, 3), nullptr);
}

TEST(FilePath, JoinResolvesAgainstTheCwdOrDirfd) {
  std::string out;
  join_path("/work/build", "obj/a.o", out);
  EXPECT_EQ(out, "/work/build/obj/a.o");
  join_path("/", "etc/passwd", out);
  EXPECT_EQ(out, "/etc/passwd");
  join_path("/a", "./b//c/.", out);
  EXPECT_EQ(out, "/a/b/c");
  join_path("/a/b", "../c", out);
  EXPECT_EQ(out, "/a/b/../c") << ".. may cross a symbolic link: left to the reader";
  join_path("/cwd", "/abs//x", out);
  EXPECT_EQ(out, "/abs/x");
  join_path("/cwd", "", out);
  EXPECT_EQ(out, "/cwd") << "AT_EMPTY_PATH: the dirfd itself";
}

std::vector<uint8_t> section(uint8_t kind, uint16_t flags, std::string_view path, uint32_t magic = 0,
                             uint64_t ino = 0) {
  cgs_fd_path h{};
  h.ino = ino;
  h.magic = magic;
  h.flags = flags;
  std::vector<uint8_t> b(sizeof(h) + path.size() + 1);
  std::memcpy(b.data(), &h, sizeof(h));
  std::memcpy(b.data() + sizeof(h), path.data(), path.size());
  (void)kind;
  return b;
}

std::string text_of(uint8_t kind, uint16_t flags, std::string_view raw, uint32_t magic = 0, uint64_t ino = 0) {
  auto bytes = section(kind, flags, raw, magic, ino);
  VarSection v{true, kind, 0, bytes};
  auto p = parse_fd_path(v);
  if (!p) return "(not a file section)";
  std::string out;
  const char* why = fd_path_text(*p, out);
  return why ? std::string("unknown: ") + why : out;
}

TEST(FilePath, SectionsNameFilesAsProcDoes) {
  EXPECT_EQ(text_of(CGS_ARG_FDPATH, 0, "target/d/tmp"), "/tmp/d/target") << "leaf first, as the kernel walks";
  EXPECT_EQ(text_of(CGS_ARG_FDPATH, 0, ""), "/");
  EXPECT_EQ(text_of(CGS_ARG_FDPATH, CGS_FDPATH_F_PSEUDO, "", 0x534F434B, 4321), "socket:[4321]");
  EXPECT_EQ(text_of(CGS_ARG_FDPATH, CGS_FDPATH_F_PSEUDO, "", 0x50495045, 99), "pipe:[99]");
  EXPECT_EQ(text_of(CGS_ARG_FDPATH, CGS_FDPATH_F_PSEUDO, "[eventfd]", 0x09041934), "anon_inode:[eventfd]");
  EXPECT_EQ(text_of(CGS_ARG_FDPATH, CGS_FDPATH_F_NOT_OPEN, ""), "unknown: fd not open");
  EXPECT_NE(text_of(CGS_ARG_FDPATH, CGS_FDPATH_F_PSEUDO, "", 0x6e736673).rfind("unknown:", 0), std::string::npos);
  EXPECT_EQ(text_of(CGS_ARG_STR, 0, "x"), "(not a file section)");
}

// A record as the kernel side sends it: header, then sections, 8-aligned.
struct Rec {
  std::vector<uint8_t> buf = std::vector<uint8_t>(sizeof(cgs_record));
  Rec(uint32_t nr, int64_t ret, std::initializer_list<uint64_t> args, uint32_t pid = 100) {
    cgs_record& h = hdr();
    h.nr = nr;
    h.pid = h.tid = pid;
    h.ret = ret;
    h.ts_ns = ++clock;
    unsigned i = 0;
    for (uint64_t a : args) h.args[i++] = a;
  }
  cgs_record& hdr() { return *reinterpret_cast<cgs_record*>(buf.data()); }
  // A section of `kind` on `arg`: a path section (leaf first) or a string.
  Rec& sec(uint8_t arg, uint8_t kind, std::string_view raw, uint32_t gen = 0, uint16_t mode = 0100644) {
    std::vector<uint8_t> data;
    if (kind == CGS_ARG_STR) {
      data.assign(raw.begin(), raw.end());
      data.push_back(0);
    } else {
      data = section(kind, 0, raw);
      auto* h = reinterpret_cast<cgs_fd_path*>(data.data());
      h->gen = gen;
      h->mode = mode;
      if (kind == CGS_ARG_FDPATH && (mode & 0170000) == 0100000) {  // as the kernel with the file events
        h->dev = 1;
        h->ino = ino_of(std::string(raw));
      }
    }
    cgs_var v{arg, kind, 0, uint32_t(data.size())};
    size_t off = buf.size();
    buf.resize(off + sizeof(v) + ((data.size() + 7) & ~size_t{7}));
    std::memcpy(buf.data() + off, &v, sizeof(v));
    std::memcpy(buf.data() + off + sizeof(v), data.data(), data.size());
    hdr().nvar++;
    return *this;
  }
  RecordView view() {
    hdr().size = uint32_t(buf.size());
    auto r = decode_record(buf);
    EXPECT_TRUE(r.has_value());
    return *r;
  }
  static inline uint64_t clock = 0;
};

uint32_t nr_of(const char* name) { return find_event(std::string_view(name))->nr; }

// The value of field `name` in `fields`, "null", or "(absent)".
std::string field(std::span<const NamedValue> fields, std::string_view name) {
  for (const NamedValue& f : fields)
    if (f.name == name) return f.value.kind == ArgValue::Kind::null ? "null" : std::string(f.value.str);
  return "(absent)";
}

constexpr uint64_t kAtFdcwd = uint64_t(-100);

TEST(FileTracker, RelativeOpenResolvesAgainstTheCwdAndCloseNamesItsFd) {
  FileTracker t({.close_paths = true});
  Rec open(nr_of("openat"), 3, {kAtFdcwd, 0, 01});
  open.sec(0, CGS_ARG_DIRPATH, "build/work").sec(1, CGS_ARG_STR, "out/a.o").sec(5, CGS_ARG_NEWFD, "", 7);
  EXPECT_EQ(field(t.on_syscall(open.view(), 3), "abs_path"), "/work/build/out/a.o");
  Rec close(nr_of("close"), 0, {3});
  close.sec(0, CGS_ARG_FDCLOSE, "", 7);
  EXPECT_EQ(field(t.on_syscall(close.view(), 0), "path"), "/work/build/out/a.o");
}

TEST(FileTracker, CloseAfterAPathMoveIsUnknownNeverStale) {
  FileTracker t({.close_paths = true});
  Rec write(nr_of("write"), 5, {4, 0, 5});
  write.sec(0, CGS_ARG_FDPATH, "x/d", 1);
  EXPECT_EQ(field(t.on_syscall(write.view(), 5), "path"), "/d/x");
  Rec close(nr_of("close"), 0, {4});
  close.sec(0, CGS_ARG_FDCLOSE, "", 2);  // a rename began since the write
  auto f = t.on_syscall(close.view(), 0);
  EXPECT_EQ(field(f, "path"), "null");
  EXPECT_NE(field(f, "path_unknown").find("rename"), std::string::npos);
  Rec again(nr_of("close"), -EBADF, {4});
  again.sec(0, CGS_ARG_FDCLOSE, "", 2);
  EXPECT_EQ(field(t.on_syscall(again.view(), -EBADF), "path_unknown"), "fd not open");
}

TEST(FileTracker, FileWriteSumsAProcessWritesUntilItsLastFdOnTheFileCloses) {
  FileTracker t({.file_write = true});
  auto write = [&](int fd, int64_t n) {
    Rec w(nr_of("write"), n, {uint64_t(fd), 0, uint64_t(n)});
    w.sec(0, CGS_ARG_FDPATH, "passwd/etc");
    t.on_syscall(w.view(), n);
  };
  write(3, 4096);
  Rec dup(nr_of("dup"), 4, {3});
  dup.sec(0, CGS_ARG_FDPATH, "passwd/etc");
  t.on_syscall(dup.view(), 4);
  write(4, 100);
  t.on_syscall(Rec(nr_of("close"), 0, {3}).sec(0, CGS_ARG_FDCLOSE, "").view(), 0);
  EXPECT_TRUE(t.ready().empty()) << "fd 4 still has the file open";
  t.on_syscall(Rec(nr_of("close"), 0, {4}).sec(0, CGS_ARG_FDCLOSE, "").view(), 0);
  ASSERT_EQ(t.ready().size(), 1u);
  const FileEvent& ev = t.ready()[0];
  EXPECT_EQ(ev.hdr.nr, uint32_t{CGS_EV_FILE_WRITE});
  EXPECT_EQ(ev.path, "/etc/passwd");
  EXPECT_EQ(ev.hdr.args[0], 4196u);
  EXPECT_EQ(ev.hdr.args[1], 2u);
  EXPECT_EQ(ev.closed_by, "close");
  t.ready().clear();
  write(5, 1);
  Rec pipe_write(nr_of("write"), 9, {6, 0, 9});
  pipe_write.sec(0, CGS_ARG_FDPATH, "", 0, 010600);  // a pipe is not a file
  t.on_syscall(pipe_write.view(), 9);
  Rec exit_rec(CGS_EV_PROCESS_EXIT, 0, {0, 0, 0});
  t.on_lifecycle(exit_rec.view());
  ASSERT_EQ(t.ready().size(), 1u);
  EXPECT_EQ(t.ready()[0].closed_by, "exit");
  EXPECT_EQ(t.ready()[0].hdr.args[0], 1u);
}

}  // namespace
}  // namespace cgscope::trace
