// -e write names every write's file, though after the first the kernel sends
// no path, only which earlier record's path still stands (CGS_FDPATH_F_REUSED,
// bpf/lib/trace_fsum.bpf.h). Long runs of writes to one fd, broken by
// everything that changes what the fd names, and by a second thread writing to
// it at the same time: each write must carry the file's path at that moment.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "trace_files_fixture.h"

namespace cgscope::testing {
namespace {

constexpr int kRun = 300;  // writes per phase

bool writes(int fd, const char* what, int n) {
  for (int i = 0; i < n; i++)
    if (::write(fd, what, std::strlen(what)) != ssize_t(std::strlen(what))) return false;
  return true;
}

struct Helper {
  int fd;
  bool ok = false;
};

void* helper_writes(void* arg) {
  auto* h = static_cast<Helper*>(arg);
  h->ok = writes(h->fd, "55555", kRun);
  return nullptr;
}

// Phase by write size: 1 and 5 (a second thread) to a/f; 2 after a rename of
// a to b; 3 after dup2 of g over the fd; 4 after a close and an open of h that
// got the same fd number.
int phased_writer(const std::string& dir) {
  int fd = ::open((dir + "/a/f").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 10;
  Helper h{fd};
  pthread_t t;
  if (pthread_create(&t, nullptr, helper_writes, &h) != 0) return 11;
  bool mine = writes(fd, "1", kRun);
  pthread_join(t, nullptr);
  if (!mine || !h.ok) return 12;
  if (::rename((dir + "/a").c_str(), (dir + "/b").c_str()) != 0 || !writes(fd, "22", kRun)) return 13;
  int g = ::open((dir + "/b/g").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (g < 0 || ::dup2(g, fd) != fd || ::close(g) != 0 || !writes(fd, "333", kRun)) return 14;
  if (::close(fd) != 0) return 15;
  int again = ::open((dir + "/b/h").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (again != fd || !writes(again, "4444", kRun)) return 16;
  return 0;
}

TEST(TracePathReuse, EveryWriteOfALongRunCarriesItsFilesPathAtThatMoment) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("reuse");
  std::filesystem::create_directories(dir.path + "/a");
  int status = -1;
  TraceRun run = trace_in_container(ct, "write", [&] { return phased_writer(dir.path); }, status);
  ASSERT_EQ(status, 0) << "the writer failed at step " << status;
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  ASSERT_NE(run.stderr_text.find(", 0 lost"), std::string::npos) << run.stderr_text;

  const std::map<int, std::string> want = {{1, dir.path + "/a/f"}, {5, dir.path + "/a/f"},
                                           {2, dir.path + "/b/f"}, {3, dir.path + "/b/g"},
                                           {4, dir.path + "/b/h"}};
  std::map<int, int> right, seen;
  int shown_wrong = 0;
  for (const auto& e : run.events) {
    if (e.value("event", "") != "write" || !e.contains("ret") || !e["ret"].is_number()) continue;
    int n = e["ret"].get<int>();
    if (!want.count(n) || e.value("container_id", "") != kContainerId) continue;
    seen[n]++;
    const auto& args = e["args"];
    if (args.value("path", nlohmann::json()) == want.at(n))
      right[n]++;
    else if (shown_wrong++ < 5)
      ADD_FAILURE() << "a write of " << n << " bytes: " << args.dump();
  }
  for (const auto& [n, path] : want) {
    EXPECT_EQ(seen[n], kRun) << "writes of " << n << " bytes";
    EXPECT_EQ(right[n], kRun) << "writes of " << n << " bytes named " << path;
  }
}

// A thread that --comm leaves out closes the fd and opens the same file through
// a bind mount, which gets that fd number (and, as a rule, the struct file just
// freed): the traced thread's next writes name the bind mount's path. The slot
// ends at that close though the close is not traced (the hook ends slots before
// the filters), and a slot never stands for another mount of the same dentry.
struct Swap {
  int fd;
  std::string other;
  bool ok = false;
};

void* swap_thread(void* arg) {
  auto* s = static_cast<Swap*>(arg);
  ::prctl(PR_SET_NAME, "cgs-other");
  s->ok = ::close(s->fd) == 0 && ::open(s->other.c_str(), O_WRONLY) == s->fd;
  return nullptr;
}

int comm_writer(const std::string& dir) {
  ::prctl(PR_SET_NAME, "cgs-writer");
  int fd = ::open((dir + "/a/f").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || !writes(fd, "1", 3)) return 10;
  Swap s{fd, dir + "/m/f"};
  pthread_t t;
  if (pthread_create(&t, nullptr, swap_thread, &s) != 0) return 11;
  pthread_join(t, nullptr);
  if (!s.ok) return 12;
  return writes(fd, "22", 3) ? 0 : 13;
}

TEST(TracePathReuse, AnFdSwappedByAThreadTheFiltersLeaveOutIsNamedAfresh) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("reuse-swap");
  std::filesystem::create_directories(dir.path + "/a");
  std::filesystem::create_directories(dir.path + "/m");
  ScopedMount bind;
  ASSERT_TRUE(bind.mount(dir.path + "/a", dir.path + "/m", "", MS_BIND)) << bind.error();
  int status = -1;
  TraceRun run = trace_in_container(ct, "write", [&] { return comm_writer(dir.path); }, status, {"--comm", "cgs-writer"});
  ASSERT_EQ(status, 0) << "the writer failed at step " << status;
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  std::map<int, std::vector<nlohmann::json>> by_size;
  for (const auto& e : run.events)
    if (e.value("event", "") == "write" && e["ret"].is_number()) by_size[e["ret"].get<int>()].push_back(e["args"]);
  ASSERT_EQ(by_size[1].size(), 3u) << run.stderr_text;
  ASSERT_EQ(by_size[2].size(), 3u) << run.stderr_text;
  for (const auto& a : by_size[1]) EXPECT_EQ(a["path"], dir.path + "/a/f") << a.dump();
  for (const auto& a : by_size[2]) EXPECT_EQ(a["path"], dir.path + "/m/f") << "through the bind mount: " << a.dump();
}

}  // namespace
}  // namespace cgscope::testing
