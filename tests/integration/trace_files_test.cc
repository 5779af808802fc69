// cgscope trace and files, end to end: a process in a docker-named cgroup does
// exact syscalls (open, write, dup2, F_DUPFD, chdir, a rename of its directory,
// a relative openat, a pipe and a socket), and the events must name each file
// as the kernel knows it at that moment. Every cgroup, file and process is owned
// (owned.h) and goes even when an assertion returns early.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "trace_files_fixture.h"

namespace cgscope::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The writer: every step a write of a distinct size, so that each can be found.
int writer(const std::string& dir, const std::string& links) {
  std::string a = dir + "/a";
  int fd = ::open((a + "/out.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, "1", 1) != 1) return 10;
  if (::dup2(fd, 7) != 7 || ::write(7, "22", 2) != 2) return 11;
  int dupfd = ::fcntl(fd, F_DUPFD, 20);
  if (dupfd < 20 || ::write(dupfd, "333", 3) != 3) return 12;
  if (::chdir(a.c_str()) != 0) return 13;
  int rel = ::openat(AT_FDCWD, "rel.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (rel < 0 || ::write(rel, "4444", 4) != 4) return 14;
  if (::rename(a.c_str(), (dir + "/b").c_str()) != 0) return 15;
  if (::write(fd, "55555", 5) != 5 || ::write(rel, "666666", 6) != 6) return 16;
  int p[2], sv[2];
  if (::pipe(p) != 0 || ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 17;
  if (::write(p[1], "7777777", 7) != 7 || ::write(sv[0], "88888888", 8) != 8) return 18;
  // What the kernel itself shows for them, for the test to compare.
  char pl[128] = {}, sl[128] = {};
  if (::readlink(("/proc/self/fd/" + std::to_string(p[1])).c_str(), pl, sizeof pl - 1) <= 0) return 19;
  if (::readlink(("/proc/self/fd/" + std::to_string(sv[0])).c_str(), sl, sizeof sl - 1) <= 0) return 19;
  FILE* out = std::fopen(links.c_str(), "w");
  if (!out) return 20;
  std::fprintf(out, "%s\n%s\n", pl, sl);
  std::fclose(out);
  ::close(7);
  ::close(fd);
  return 0;
}

TEST(TraceFiles, WritesCarryTheFilesPathThroughDupsChdirAndARenameOfTheDirectory) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("files");
  std::filesystem::create_directories(dir.path + "/a");
  TempPath links("links");
  int status = -1;
  TraceRun run = trace_in_container(ct, "write,openat,close", [&] { return writer(dir.path, links.path); }, status);
  ASSERT_EQ(status, 0) << "the writer failed at step " << status;
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find(", 0 lost"), std::string::npos) << run.stderr_text;

  const std::string a = dir.path + "/a", b = dir.path + "/b";
  EXPECT_EQ(write_path(run, 1), a + "/out.txt");
  EXPECT_EQ(write_path(run, 2), a + "/out.txt") << "through dup2";
  EXPECT_EQ(write_path(run, 3), a + "/out.txt") << "through fcntl(F_DUPFD)";
  EXPECT_EQ(write_path(run, 4), a + "/rel.txt") << "opened relative to the new cwd";
  EXPECT_EQ(write_path(run, 5), b + "/out.txt") << "after the rename of its directory";
  EXPECT_EQ(write_path(run, 6), b + "/rel.txt") << "after the rename of its directory";

  bool rel_open = false;
  for (const auto& e : mine(run, "openat"))
    if (e["args"]["filename"] == "rel.txt") {
      rel_open = true;
      EXPECT_EQ(e["args"]["abs_path"], a + "/rel.txt") << e.dump();
      EXPECT_EQ(e["container_id"], kContainerId);
    }
  EXPECT_TRUE(rel_open) << "no openat of rel.txt";

  // The pipe and the socket, named with the inode /proc/PID/fd showed.
  std::istringstream shown(read_file(links.path));
  std::string pipe_link, sock_link;
  std::getline(shown, pipe_link);
  std::getline(shown, sock_link);
  EXPECT_EQ(pipe_link.rfind("pipe:[", 0), 0u) << pipe_link;
  EXPECT_EQ(sock_link.rfind("socket:[", 0), 0u) << sock_link;
  EXPECT_EQ(write_path(run, 7), pipe_link);
  EXPECT_EQ(write_path(run, 8), sock_link);

  // Closes, named at their entry: fd 7 was last used before the rename of its
  // directory (the fd table's copy of its name is stale) and still gets its
  // name now; so does the fd written after it.
  std::map<int, nlohmann::json> closes;
  for (const auto& e : mine(run, "close")) closes[e["args"]["fd"].get<int>()] = e["args"];
  ASSERT_TRUE(closes.count(7)) << "no close of fd 7";
  EXPECT_EQ(closes[7]["path"], b + "/out.txt") << closes[7].dump();
  EXPECT_FALSE(closes[7].contains("path_unknown")) << closes[7].dump();
  int closed_right = 0;
  for (const auto& [fd, args] : closes) closed_right += args["path"] == b + "/out.txt";
  EXPECT_EQ(closed_right, 2) << "fd 7 and its original, both named " << b << "/out.txt";
}

// Opens a file, renames an unrelated one (any rename on the machine made the fd
// table's names untrusted), then closes the first.
int close_after_rename(const std::string& dir) {
  int fd = ::open((dir + "/kept").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 10;
  int other = ::open((dir + "/other").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (other < 0 || ::close(other) != 0) return 11;
  if (::rename((dir + "/other").c_str(), (dir + "/moved").c_str()) != 0) return 12;
  if (::close(fd) != 0) return 13;
  return 0;
}

TEST(TraceFiles, CloseNamesItsFileExactlyAfterARenameElsewhere) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("closerename");
  std::filesystem::create_directories(dir.path);
  int status = -1;
  TraceRun run = trace_in_container(ct, "openat,close", [&] { return close_after_rename(dir.path); }, status);
  ASSERT_EQ(status, 0) << "the child failed at step " << status;
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  std::vector<nlohmann::json> named;
  for (const auto& e : mine(run, "close"))
    if (e["ret"] == 0 && e["args"]["path"].is_string() &&
        e["args"]["path"].get<std::string>().rfind(dir.path + "/", 0) == 0)
      named.push_back(e["args"]);
  ASSERT_EQ(named.size(), 2u) << run.stderr_text;
  EXPECT_EQ(named[0]["path"], dir.path + "/other") << named[0].dump();
  EXPECT_EQ(named[1]["path"], dir.path + "/kept") << "after the rename: " << named[1].dump();
}

// Writes 1000 + 2000 bytes, renames the file, writes 4096, and 10 more through a
// dup, then closes both; a second file gets 77 bytes and is left open at exit.
int known_writer(const std::string& dir) {
  static char buf[4096];
  int fd = ::open((dir + "/known").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int other = ::open((dir + "/left-open").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || other < 0) return 10;
  for (size_t n : {1000, 2000, 4096}) {
    if (n == 4096 && ::rename((dir + "/known").c_str(), (dir + "/renamed").c_str()) != 0) return 15;
    if (::write(fd, buf, n) != ssize_t(n)) return 11;
  }
  int copy = ::dup(fd);
  if (copy < 0 || ::write(copy, buf, 10) != 10) return 12;
  if (::close(fd) != 0 || ::close(copy) != 0) return 13;
  if (::write(other, buf, 77) != 77) return 14;
  return 0;
}

TEST(TraceFiles, FileWriteSumsTheBytesOfAKnownWriterExactly) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("filewrite");
  std::filesystem::create_directories(dir.path);
  int status = -1;
  TraceRun run = trace_in_container(ct, "file_write", [&] { return known_writer(dir.path); }, status);
  ASSERT_EQ(status, 0) << "the writer failed at step " << status;
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  std::map<std::string, nlohmann::json> by_path;
  for (const auto& e : mine(run, "file_write")) {
    by_path[e["args"]["path"].get<std::string>()] = e;
    EXPECT_EQ(e["container_id"], kContainerId);
  }
  for (const auto& e : run.events) EXPECT_EQ(e["event"], "file_write") << "only what -e asked for: " << e.dump();
  // One file, renamed while open: one event, under its last name.
  EXPECT_FALSE(by_path.count(dir.path + "/known")) << by_path[dir.path + "/known"].dump();
  ASSERT_TRUE(by_path.count(dir.path + "/renamed")) << run.stderr_text;
  const auto& known = by_path[dir.path + "/renamed"];
  EXPECT_EQ(known["args"]["bytes"], 7106) << known.dump();
  EXPECT_EQ(known["args"]["calls"], 4) << known.dump();
  EXPECT_EQ(known["args"]["closed_by"], "close") << known.dump();
  ASSERT_TRUE(by_path.count(dir.path + "/left-open")) << run.stderr_text;
  EXPECT_EQ(by_path[dir.path + "/left-open"]["args"]["bytes"], 77);
  EXPECT_EQ(by_path[dir.path + "/left-open"]["args"]["closed_by"], "exit");
  EXPECT_EQ(by_path.size(), 2u) << "no event for the writes to the tty, pipes or /dev/null";
}

}  // namespace
}  // namespace cgscope::testing

namespace cgscope::testing {
namespace {

// Many small writes, which the kernel counts without a record each once the
// first has named the file (bpf/lib/trace_fsum.bpf.h), through everything that
// must end or re-arm such a count: a close and a reopen of another file at the
// same fd number, a dup2 over the fd, an unlink, and a file left open at exit.
int counted_writer(const std::string& dir) {
  static char buf[16];
  int fd = ::open((dir + "/first").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 10;
  for (int i = 0; i < 500; i++)
    if (::write(fd, buf, 3) != 3) return 11;
  if (::close(fd) != 0) return 12;
  int again = ::open((dir + "/second").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (again != fd) return 13;  // the same fd number, another file
  for (int i = 0; i < 200; i++)
    if (::write(fd, buf, 5) != 5) return 14;
  int third = ::open((dir + "/third").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (third < 0 || ::dup2(third, fd) != fd || ::close(third) != 0) return 15;
  for (int i = 0; i < 100; i++)
    if (::write(fd, buf, 7) != 7) return 16;
  if (::unlink((dir + "/third").c_str()) != 0 || ::write(fd, buf, 11) != 11) return 17;
  if (::close(fd) != 0) return 18;
  int left = ::open((dir + "/left-open").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (left < 0) return 19;
  for (int i = 0; i < 1000; i++)
    if (::write(left, buf, 1) != 1) return 20;
  return 0;
}

TEST(TraceFiles, FileWriteSumsCountedInTheKernelEndAtCloseDup2UnlinkAndExit) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("fsums");
  std::filesystem::create_directories(dir.path);
  int status = -1;
  TraceRun run = trace_in_container(ct, "file_write", [&] { return counted_writer(dir.path); }, status);
  ASSERT_EQ(status, 0) << "the writer failed at step " << status;
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find(", 0 lost"), std::string::npos) << run.stderr_text;
  std::map<std::string, nlohmann::json> by_path;
  for (const auto& e : mine(run, "file_write")) {
    std::string p = e["args"]["path"].get<std::string>();
    EXPECT_FALSE(by_path.count(p)) << "one event per file: " << e.dump();
    by_path[p] = e["args"];
  }
  auto expect = [&](const std::string& name, uint64_t bytes, uint64_t calls, const char* by) {
    ASSERT_TRUE(by_path.count(dir.path + "/" + name)) << name << " missing; " << run.stderr_text;
    const auto& a = by_path[dir.path + "/" + name];
    EXPECT_EQ(a["bytes"], bytes) << a.dump();
    EXPECT_EQ(a["calls"], calls) << a.dump();
    EXPECT_EQ(a["closed_by"], by) << a.dump();
  };
  expect("first", 1500, 500, "close");
  expect("second", 1000, 200, "close");  // ended by the dup2 over its fd
  expect("third", 711, 101, "close");
  EXPECT_EQ(by_path[dir.path + "/third"].value("path_deleted", 0), 1) << "its last write came after the unlink";
  expect("left-open", 1000, 1000, "exit");
  EXPECT_EQ(by_path.size(), 4u);
}

// Writes counted in the kernel to a close-on-exec fd, then an exec: the exec
// closes the fd with no syscall of its own, and its count ends there.
int exec_writer(const std::string& dir) {
  int fd = ::open((dir + "/cloexec").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return 10;
  for (int i = 0; i < 300; i++)
    if (::write(fd, "ab", 2) != 2) return 11;
  ::execl("/bin/true", "true", nullptr);
  return 12;
}

TEST(TraceFiles, FileWriteSumsCountedInTheKernelEndAtExec) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("fsumexec");
  std::filesystem::create_directories(dir.path);
  int status = -1;
  TraceRun run = trace_in_container(ct, "file_write", [&] { return exec_writer(dir.path); }, status);
  ASSERT_EQ(status, 0) << "the writer failed at step " << status;
  expect_one_sum(run, dir.path + "/cloexec", 600, 300, "exec");
}

// Writes counted in the kernel, then close_range over the fd: the range's
// slots end there (the walk runs only for processes that have a slot).
int close_range_writer(const std::string& dir) {
  int fd = ::open((dir + "/ranged").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 10;
  for (int i = 0; i < 250; i++)
    if (::write(fd, "abc", 3) != 3) return 11;
  if (::close_range(unsigned(fd), unsigned(fd), 0) != 0) return 12;
  return 0;
}

TEST(TraceFiles, FileWriteSumsCountedInTheKernelEndAtCloseRange) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("fsumrange");
  std::filesystem::create_directories(dir.path);
  int status = -1;
  TraceRun run = trace_in_container(ct, "file_write", [&] { return close_range_writer(dir.path); }, status);
  ASSERT_EQ(status, 0) << "the writer failed at step " << status;
  expect_one_sum(run, dir.path + "/ranged", 750, 250, "close");
}

// Reads counted in the kernel the same way: 100 reads of 10 bytes, then the
// read at the end of the file (0 bytes: no call of the sum).
int counted_reader(const std::string& path) {
  char buf[10];
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return 10;
  for (int i = 0; i < 100; i++)
    if (::read(fd, buf, sizeof buf) != 10) return 11;
  if (::read(fd, buf, sizeof buf) != 0 || ::close(fd) != 0) return 12;
  return 0;
}

TEST(TraceFiles, FileReadSumsCountedInTheKernelAreExact) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath file("fsumread");
  std::ofstream(file.path) << std::string(1000, 'r');
  int status = -1;
  TraceRun run = trace_in_container(ct, "file_read", [&] { return counted_reader(file.path); }, status);
  ASSERT_EQ(status, 0) << "the reader failed at step " << status;
  std::vector<nlohmann::json> found;
  for (const auto& e : mine(run, "file_read"))
    if (e["args"]["path"] == file.path) found.push_back(e["args"]);
  ASSERT_EQ(found.size(), 1u) << run.stderr_text;
  EXPECT_EQ(found[0]["bytes"], 1000) << found[0].dump();
  EXPECT_EQ(found[0]["calls"], 100) << found[0].dump();
  EXPECT_EQ(found[0]["closed_by"], "close") << found[0].dump();
}

// The path of each write is the file's at that moment: after a rename of the
// file itself while open, and after a close and an open of another file that
// got the same fd number.
int renaming_writer(const std::string& dir) {
  int fd = ::open((dir + "/before").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ::write(fd, "1", 1) != 1) return 10;
  if (::rename((dir + "/before").c_str(), (dir + "/after").c_str()) != 0) return 11;
  if (::write(fd, "22", 2) != 2 || ::close(fd) != 0) return 12;
  int other = ::open((dir + "/other").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (other != fd || ::write(other, "333", 3) != 3) return 13;
  return 0;
}

TEST(TraceFiles, WritesAreNamedAfterARenameOfTheFileAndAReuseOfTheFdNumber) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("renamed");
  std::filesystem::create_directories(dir.path);
  int status = -1;
  TraceRun run = trace_in_container(ct, "write", [&] { return renaming_writer(dir.path); }, status);
  ASSERT_EQ(status, 0) << "the writer failed at step " << status;
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(write_path(run, 1), dir.path + "/before");
  EXPECT_EQ(write_path(run, 2), dir.path + "/after") << "renamed while open";
  EXPECT_EQ(write_path(run, 3), dir.path + "/other") << "the same fd number, another file";
}

}  // namespace
}  // namespace cgscope::testing
