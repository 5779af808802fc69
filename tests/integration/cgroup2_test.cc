// cgroup v2 helpers and the container registry against the real cgroup tree.
// Root only. Every cgroup made here lives under one named cgscope-it-top-<pid>-<n>,
// owned by a ScopedCgroup, and every process is an owned Child (owned.h), so both
// go away even when an assertion fails.
#include <fcntl.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/cgroup2.h"
#include "trace/container_id.h"
#include "trace/containers.h"
#include "owned.h"

namespace cgscope {
namespace {

using trace::ContainerInfo;
using trace::ContainerRegistry;
using testing::Child;
using testing::unique_name;
using namespace std::chrono_literals;

std::string random_container_id() {
  std::random_device rd;
  std::mt19937_64 gen((uint64_t(rd()) << 32) ^ rd() ^ uint64_t(getpid()));
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 64; ++i) id.push_back(kHex[gen() & 15]);
  return id;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<pid_t> procs_of(const std::string& cgroup_abs) {
  std::vector<pid_t> out;
  FILE* f = std::fopen((cgroup_abs + "/cgroup.procs").c_str(), "r");
  if (!f) return out;
  int pid;
  while (std::fscanf(f, "%d", &pid) == 1) out.push_back(pid);
  std::fclose(f);
  return out;
}

class CgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    auto m = cgroup2_mount();
    ASSERT_TRUE(m) << m.error().message;
    mount_ = *m;
    auto top = ScopedCgroup::create(mount_, unique_name("top"));
    ASSERT_TRUE(top) << top.error().message;
    top_.emplace(std::move(*top));
  }

  // A cgroup below this test's top cgroup; `name` relative to it. Throws on
  // failure: gtest fails the test, and unwinding removes what was made so far.
  ScopedCgroup make(const std::string& name) {
    std::string rel = top_->path().substr(mount_.size() + 1) + "/" + name;
    auto cg = ScopedCgroup::create(mount_, rel);
    if (!cg) throw std::runtime_error(cg.error().message);
    return std::move(*cg);
  }

  void check_removal_with_live_processes(bool use_cgroup_kill);

  std::string rel_of(const ScopedCgroup& cg) const { return cg.path().substr(mount_.size()); }

  std::string mount_;
  std::optional<ScopedCgroup> top_;  // removed last, with everything below it
};

using Cgroup2Integration = CgroupTest;
using CgroupRegistryIntegration = CgroupTest;
using CgroupScopedIntegration = CgroupTest;

TEST_F(Cgroup2Integration, MountAndOwnCgroup) {
  auto id = cgroup_id(mount_);
  ASSERT_TRUE(id) << id.error().message;
  auto own = cgroup_of_pid(::getpid());
  ASSERT_TRUE(own) << own.error().message;
  EXPECT_TRUE(exists(*own == "/" ? mount_ : mount_ + *own)) << *own;
  auto gone = cgroup_of_pid(0x7ffffff0);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ESRCH);
  // Not a cgroup v2 directory.
  auto bad = cgroup_id("/proc");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, EINVAL);
  EXPECT_FALSE(cgroup_id(mount_ + "/cgscope-no-such-cgroup-" + std::to_string(getpid())));
}

TEST_F(Cgroup2Integration, IdIsInodeAndPathRoundTrips) {
  const std::string cid = random_container_id();
  ScopedCgroup cg = make("docker-" + cid + ".scope");
  struct stat st {};
  ASSERT_EQ(::stat(cg.path().c_str(), &st), 0);
  EXPECT_EQ(cg.id(), static_cast<uint64_t>(st.st_ino));
  auto id = cgroup_id(cg.path());
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, cg.id());

  auto rel = cgroup_path_of_id(mount_, cg.id());
  ASSERT_TRUE(rel) << rel.error().message;
  EXPECT_EQ(*rel, rel_of(cg));
  auto with_slash = cgroup_path_of_id(mount_ + "/", cg.id());
  ASSERT_TRUE(with_slash);
  EXPECT_EQ(*with_slash, rel_of(cg));

  auto root_id = cgroup_id(mount_);
  ASSERT_TRUE(root_id);
  auto root = cgroup_path_of_id(mount_, *root_id);
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(*root, "/");

  // The path of our own process's cgroup, both ways.
  auto own = cgroup_of_pid(::getpid());
  ASSERT_TRUE(own);
  auto own_id = cgroup_id(*own == "/" ? mount_ : mount_ + *own);
  ASSERT_TRUE(own_id);
  auto own_back = cgroup_path_of_id(mount_, *own_id);
  ASSERT_TRUE(own_back);
  EXPECT_EQ(*own_back, *own);

  // A removed cgroup's id no longer resolves.
  const uint64_t old_id = cg.id();
  ASSERT_TRUE(cg.remove());
  auto gone = cgroup_path_of_id(mount_, old_id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ENOENT);
  // A regular file's inode on the mount is no cgroup.
  struct stat fst {};
  ASSERT_EQ(::stat((top_->path() + "/cgroup.procs").c_str(), &fst), 0);
  EXPECT_FALSE(cgroup_path_of_id(mount_, fst.st_ino));
}

TEST_F(Cgroup2Integration, PathOfIdFallsBackToWalkWithoutCapDacReadSearch) {
  ScopedCgroup cg = make("walked");
  ScopedCgroup deeper = make("walked/deeper");
  const std::string want = rel_of(deeper);
  // In a child: drop CAP_DAC_READ_SEARCH, which open_by_handle_at needs.
  Child child;
  ASSERT_TRUE(child.start_fn([&]() -> int {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capget, &hdr, data) != 0) ::_exit(10);
    data[CAP_DAC_READ_SEARCH / 32].effective &= ~(1u << (CAP_DAC_READ_SEARCH % 32));
    if (::syscall(SYS_capset, &hdr, data) != 0) ::_exit(11);
    // The handle route is closed now...
    int mfd = ::open(mount_.c_str(), O_RDONLY | O_DIRECTORY);
    alignas(file_handle) unsigned char buf[sizeof(file_handle) + 8] = {};
    auto* fh = reinterpret_cast<file_handle*>(buf);
    fh->handle_bytes = 8;
    fh->handle_type = 0xfe;
    uint64_t id = deeper.id();
    std::memcpy(fh->f_handle, &id, 8);
    if (::open_by_handle_at(mfd, fh, O_RDONLY) >= 0 || errno != EPERM) ::_exit(12);
    // ...and the walk still finds the cgroup.
    auto p = cgroup_path_of_id(mount_, deeper.id());
    if (!p) ::_exit(13);
    if (*p != want) ::_exit(14);
    auto gone = cgroup_path_of_id(mount_, ~uint64_t(0));
    if (gone || gone.error().code != ENOENT) ::_exit(15);
    return 0;
  })) << child.error();
  auto status = child.wait_for(30s);
  ASSERT_TRUE(status) << "the child did not exit";
  ASSERT_TRUE(WIFEXITED(*status)) << testing::describe_status(status);
  EXPECT_EQ(WEXITSTATUS(*status), 0) << "10/11: capabilities, 12: handle still worked, 13/14: walk failed, 15: bad id";
}

TEST_F(Cgroup2Integration, WalkFindsNestedCgroupsWithinLimits) {
  ScopedCgroup a = make("a");
  ScopedCgroup b = make("a/b");
  ScopedCgroup c = make("a/b/c");
  std::vector<std::pair<std::string, uint64_t>> seen;
  auto stats = walk_cgroup_tree(top_->path(), [&](const std::string& rel, int, uint64_t id) {
    seen.emplace_back(rel, id);
    return true;
  });
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_FALSE(stats->truncated);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], std::make_pair(std::string("/"), top_->id()));
  EXPECT_EQ(seen[3], std::make_pair(std::string("/a/b/c"), c.id()));

  seen.clear();
  stats = walk_cgroup_tree(top_->path(), [&](const std::string& rel, int, uint64_t id) {
    seen.emplace_back(rel, id);
    return true;
  }, CgroupWalkLimits{1, 100});
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->truncated);
  EXPECT_EQ(seen.size(), 2u);  // top and a

  stats = walk_cgroup_tree(top_->path(), [](const std::string&, int, uint64_t) { return true; },
                           CgroupWalkLimits{32, 3});
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->truncated);
  EXPECT_EQ(stats->visited, 3u);
}

TEST_F(CgroupRegistryIntegration, TagsRuntimeNamedCgroups) {
  auto host = trace::host_pidns_inum();
  ASSERT_TRUE(host) << host.error().message;
  const std::string cid = random_container_id();
  ScopedCgroup ctr = make("docker-" + cid + ".scope");
  ScopedCgroup inner = make("docker-" + cid + ".scope/init.scope");
  ScopedCgroup plain = make("plain.service");

  ContainerRegistry reg(mount_, *host);
  reg.scan();
  const ContainerInfo* c = reg.lookup(ctr.id());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->runtime, "docker");
  EXPECT_EQ(c->id, cid);
  EXPECT_EQ(c->cgroup_path, rel_of(ctr));
  EXPECT_FALSE(c->by_pidns);
  const ContainerInfo* ci = reg.lookup(inner.id());
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ(ci->id, cid);
  EXPECT_EQ(reg.lookup(plain.id()), nullptr);
  EXPECT_EQ(reg.lookup(top_->id()), nullptr);
  EXPECT_EQ(reg.cgroups_of(cid.substr(0, 12)), (std::vector<uint64_t>{std::min(ctr.id(), inner.id()),
                                                                        std::max(ctr.id(), inner.id())}));
  bool listed = false;
  for (const auto& info : reg.list()) listed |= info.id == cid && info.cgroup_path == rel_of(ctr);
  EXPECT_TRUE(listed);

  // Made after the scan, no mkdir event seen: resolved on first lookup by id.
  const std::string cid2 = random_container_id();
  ScopedCgroup late = make("cri-containerd-" + cid2 + ".scope");
  const ContainerInfo* l = reg.lookup(late.id());
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->runtime, "containerd");
  EXPECT_EQ(l->id, cid2);
}

TEST_F(CgroupRegistryIntegration, FindsPidNamespaceContainerByScan) {
  if (::access("/usr/bin/unshare", X_OK) != 0 && ::access("/bin/unshare", X_OK) != 0)
    GTEST_SKIP() << "unshare (util-linux) not installed";
  auto host = trace::host_pidns_inum();
  ASSERT_TRUE(host);
  ScopedCgroup box = make("sandbox");
  ScopedCgroup below = make("sandbox/sub");
  Child child;  // destroyed before the cgroups: killed and reaped first
  ASSERT_TRUE(child.start({"unshare", "--pid", "--fork", "sleep", "60"}, {.cgroup = box.path()})) << child.error();

  // Wait for unshare's child, the namespace's pid 1, to show up in the cgroup.
  pid_t inner = -1;
  for (int i = 0; i < 500 && inner < 0; ++i) {
    for (pid_t p : procs_of(box.path())) {
      auto ns = trace::pidns_inum_of(p);
      if (ns && *ns != *host) inner = p;
    }
    if (inner < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(inner, 0) << "no process in a new pid namespace appeared in " << box.path();

  ContainerRegistry reg(mount_, *host);
  reg.scan();
  const ContainerInfo* c = reg.lookup(box.id());
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->by_pidns);
  EXPECT_EQ(c->id, "sandbox");
  EXPECT_EQ(c->runtime, "");
  EXPECT_EQ(c->cgroup_path, rel_of(box));
  // A cgroup below it belongs to it.
  const ContainerInfo* b = reg.lookup(below.id());
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->cgroup_path, rel_of(box));
  // Its parent does not.
  EXPECT_EQ(reg.lookup(top_->id()), nullptr);
  auto ids = reg.cgroups_of("sandbox");
  EXPECT_NE(std::find(ids.begin(), ids.end(), box.id()), ids.end());

  // The same found from a process event, without a scan; a cgroup cached as the
  // host before is looked at again.
  ContainerRegistry live(mount_, *host);
  EXPECT_EQ(live.lookup(below.id()), nullptr);
  auto ns = trace::pidns_inum_of(inner);
  ASSERT_TRUE(ns);
  live.on_process(box.id(), *ns, 1);
  const ContainerInfo* lc = live.lookup(box.id());
  ASSERT_NE(lc, nullptr);
  EXPECT_TRUE(lc->by_pidns);
  const ContainerInfo* lb = live.lookup(below.id());
  ASSERT_NE(lb, nullptr);
  EXPECT_EQ(lb->id, "sandbox");
  // The host's namespace or the root cgroup never make one.
  ContainerRegistry other(mount_, *host);
  other.on_process(top_->id(), *host, 1);
  EXPECT_EQ(other.lookup(top_->id()), nullptr);
  auto root_id = cgroup_id(mount_);
  ASSERT_TRUE(root_id);
  other.on_process(*root_id, *ns, 1);
  EXPECT_EQ(other.lookup(*root_id), nullptr);
}

void CgroupTest::check_removal_with_live_processes(bool use_cgroup_kill) {
  ScopedCgroup cg = make("victim");
  const std::string path = cg.path();
  {
    ScopedCgroup sub = std::move(cg);
    EXPECT_TRUE(cg.path().empty());  // NOLINT: moved-from must not remove anything
    std::string nested_path = make("victim/nested").release();  // left for sub's removal to find

    Child a, b;
    ASSERT_TRUE(a.start({"sleep", "60"}, {.cgroup = path})) << a.error();
    ASSERT_TRUE(b.start({"sh", "-c", "sleep 60 & sleep 60 & wait"}, {.cgroup = nested_path})) << b.error();
    EXPECT_FALSE(procs_of(path).empty());
    EXPECT_FALSE(procs_of(nested_path).empty());

    if (!use_cgroup_kill) {
      auto k = sub.kill_all(false);
      ASSERT_TRUE(k) << k.error().message;
      EXPECT_TRUE(procs_of(path).empty());
      EXPECT_TRUE(procs_of(nested_path).empty());
    }
    auto r = sub.remove();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(sub.path().empty());
    EXPECT_FALSE(exists(nested_path));
    EXPECT_FALSE(exists(path));
    auto sa = a.wait_for(10s);  // no signal of ours: the cgroup's removal killed it
    ASSERT_TRUE(sa);
    EXPECT_TRUE(WIFSIGNALED(*sa) && WTERMSIG(*sa) == SIGKILL);
    auto sb = b.wait_for(10s);
    ASSERT_TRUE(sb);
    EXPECT_TRUE(WIFSIGNALED(*sb) && WTERMSIG(*sb) == SIGKILL);
    EXPECT_TRUE(sub.remove());  // a second time: nothing to do
  }
  EXPECT_FALSE(exists(path));
}

TEST_F(CgroupScopedIntegration, RemovesCgroupWithLiveProcessesUsingCgroupKill) {
  check_removal_with_live_processes(true);
}

TEST_F(CgroupScopedIntegration, RemovesCgroupWithLiveProcessesBySignals) {
  check_removal_with_live_processes(false);
}

TEST_F(CgroupScopedIntegration, DestructorRemovesAndReleaseKeeps) {
  std::string path;
  Child child;
  {
    ScopedCgroup cg = make("scoped");
    path = cg.path();
    ASSERT_TRUE(child.start({"sleep", "60"}, {.cgroup = path})) << child.error();
    ASSERT_TRUE(exists(path));
  }
  EXPECT_FALSE(exists(path));
  auto st = child.wait_for(10s);
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFSIGNALED(*st));

  std::string kept;
  {
    ScopedCgroup cg = make("kept");
    kept = cg.release();
    EXPECT_TRUE(cg.path().empty());
  }
  EXPECT_TRUE(exists(kept));  // top_ removes it at the end of the test
}

TEST_F(CgroupScopedIntegration, AddPidMovesAProcess) {
  ScopedCgroup cg = make("target");
  Child child;
  ASSERT_TRUE(child.start({"sleep", "60"}, {.cgroup = top_->path()})) << child.error();
  auto r = cg.add_pid(child.pid());
  ASSERT_TRUE(r) << r.error().message;
  auto now = cgroup_of_pid(child.pid());
  ASSERT_TRUE(now);
  EXPECT_EQ(*now, rel_of(cg));
  auto bad = cg.add_pid(0x7ffffff0);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("cgroup.procs"), std::string::npos);
}

TEST_F(CgroupScopedIntegration, CreateRefusesExistingAndBadNames) {
  ScopedCgroup cg = make("dup");
  const std::string rel = cg.path().substr(mount_.size() + 1);
  auto again = ScopedCgroup::create(mount_, rel);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, EEXIST);
  EXPECT_TRUE(exists(cg.path()));  // the failed create did not take the existing one away
  for (const char* bad : {"", "/abs", "a/../b", "./x", "a//b", ".."}) {
    auto r = ScopedCgroup::create(mount_, bad);
    EXPECT_FALSE(r) << bad;
  }
  auto no_parent = ScopedCgroup::create(mount_, rel + "/missing/child");
  EXPECT_FALSE(no_parent);
}

}  // namespace
}  // namespace cgscope
