// The Docker round trip of `cgscope trace --seccomp-profile`: a container command
// is traced from the cgroup it starts in (docker run --cgroup-parent=/X, cgscope
// trace -c /X), and `docker run --security-opt seccomp=PROFILE` of the same
// command works with the profile and gets EPERM for a call outside it. On a
// dockerd of the test's own (dockerd.h), --bridge=none, the image FROM scratch
// with Debian's static busybox.
//
// What the profile must allow besides the container command's own calls, found
// with this docker (20.10.24, runc 1.1.5): Docker hands the profile to runc, and
// runc loads it on its init thread (prctl(PR_SET_SECCOMP), no TSYNC: runc init's
// other Go threads stay unfiltered, and exec ends them) before it drops
// privileges (without no-new-privileges it must: seccomp needs CAP_SYS_ADMIN
// then), so the filter already checks what runc does after: it reads
// /proc/self/status, stats /dev/null and fds 0-2, reads /proc/self/fd to mark
// fds close-on-exec (fstatfs to check it is procfs, getdents64, fcntl), sets
// groups, gid and uid, the capabilities (capget, capset, prctl), chdirs to the
// working directory, writes to the exec fifo, then execve. A profile without any
// of capget, capset, chdir, fstat, fstatfs, getdents64, newfstatat, read,
// setgid, setgroups, setuid does not start: "runc create failed: unable to start
// container process: ... operation not permitted" (exit 125); epoll_ctl and
// faccessat2, which it also calls, it does without. Tracing the container's
// cgroup from its start catches all of that, because runc init runs there:
// the profile then also allows what runc init did before the load (mount,
// pivot_root, sethostname, unshare, ...), which the container's capabilities
// (no CAP_SYS_ADMIN) still deny.
//
// A profile holds the paths the traced run took, no more: traced with a script
// whose shell exec'd its last command, a script that forks for it too is denied
// wait4, and a denied wait4 fails quietly (the shell goes on, and the child it
// did not wait for is killed with the container, its output lost). kScript and
// kMore take the same paths for that reason.
#include <set>

#include "dockerd.h"
#include "trace_harness.h"

namespace cgscope::testing {
namespace {

// What runc 1.1.5 calls on its init thread between its seccomp load and the
// container's execve, less epoll_ctl and faccessat2 (see above).
const std::set<std::string> kRuncAfterLoad = {
    "capget", "capset",   "chdir",      "close",   "execve", "fcntl",  "fstat",  "fstatfs",   "futex",  "getcwd",
    "getdents64", "getpid", "getppid", "newfstatat", "openat", "prctl", "read", "setgid", "setgroups", "setuid",
    "write"};

// The shell forks for cat (and waits) and execs the last command: the same as
// in kMore, whose only call outside the profile is then mkdir's.
const std::string kScript = "echo hi > /f; /bin/busybox cat /f; /bin/busybox true";
const std::string kMore = "echo hi > /f; /bin/busybox cat /f; /bin/busybox mkdir /d";

std::set<std::string> profile_names(const std::string& text) {
  std::set<std::string> names;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return names;
  for (const auto& entry : j["syscalls"])
    for (const auto& n : entry["names"]) names.insert(n.get<std::string>());
  return names;
}

std::string profile_of(const std::set<std::string>& names) {
  nlohmann::json p{{"defaultAction", "SCMP_ACT_ERRNO"},
                   {"defaultErrnoRet", 1},
                   {"architectures", {"SCMP_ARCH_X86_64"}},
                   {"syscalls", {{{"names", names}, {"action", "SCMP_ACT_ALLOW"}}}}};
  return p.dump();
}

class SeccompDockerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dockerd_.start({});
    if (IsSkipped() || HasFatalFailure()) return;
    dockerd_.build_busybox_image(tag_);
    if (HasFatalFailure()) return;
    image_built_ = true;
    auto m = cgroup2_mount();
    ASSERT_TRUE(m) << m.error().message;
    auto cg = ScopedCgroup::create(*m, unique_name("scd"));
    ASSERT_TRUE(cg) << cg.error().message;
    parent_ = std::make_unique<ScopedCgroup>(std::move(*cg));
    parent_rel_ = relative_cgroup_path(*m, parent_->path());
    dockerd_.remove_v1_cgroups_after(parent_rel_);
  }

  void TearDown() override {
    if (image_built_) {
      auto rmi = dockerd_.docker({"rmi", tag_});
      EXPECT_EQ(rmi.code, 0) << rmi.output;
      EXPECT_EQ(dockerd_.docker({"ps", "-aq"}).output, "");
      EXPECT_EQ(dockerd_.docker({"images", "-aq"}).output, "");
    }
    if (parent_) {
      auto r = parent_->remove();  // and a container a failed run left in it
      EXPECT_TRUE(r) << r.error().message;
    }
    dockerd_.stop();
  }

  // `docker run --rm --network=none OPTS IMAGE /bin/busybox sh -c SCRIPT`.
  RunResult box(const std::string& script, std::vector<std::string> opts = {}) {
    std::vector<std::string> args{"run", "--rm", "--network=none"};
    args.insert(args.end(), opts.begin(), opts.end());
    for (const std::string& a : {tag_, std::string("/bin/busybox"), std::string("sh"), std::string("-c"), script})
      args.push_back(a);
    return dockerd_.docker(args, 60s);
  }
  RunResult box_with(const std::string& script, const std::string& profile_path) {
    return box(script, {"--security-opt", "seccomp=" + profile_path});
  }

  // SCRIPT in a container traced from the cgroup it starts in, runc init
  // included: `cgscope trace -c <parent> --seccomp-profile PROFILE -e EVENTS`.
  TraceRun trace_box(const std::string& script, const std::string& profile, const std::string& events) {
    CgscopeProcess p({"-c", parent_->path(), "--seccomp-profile", profile, "-e", events});
    EXPECT_TRUE(p.ready()) << p.stderr_so_far();
    auto r = box(script, {"--cgroup-parent=" + parent_rel_});
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, "hi\n");
    return p.finish(true);
  }

  Dockerd dockerd_;
  const std::string tag_ = fmt::format("cgscope-it-seccomp:{}", getpid());
  bool image_built_ = false;
  std::unique_ptr<ScopedCgroup> parent_;
  std::string parent_rel_;
  TempPath dir_{"seccomp-docker"};
};

TEST_F(SeccompDockerTest, AProfileTracedFromTheContainersCgroupRunsItAndDeniesTheRest) {
  ASSERT_TRUE(std::filesystem::create_directory(dir_.path));
  const std::string profile = dir_.path + "/profile.json";
  auto traced = trace_box(kScript, profile, "execve");
  ASSERT_EQ(traced.exit_code, 0) << traced.stderr_text;
  ASSERT_NE(traced.stderr_text.find("cgscope: wrote the seccomp profile " + profile), std::string::npos)
      << traced.stderr_text;
  auto names = profile_names(slurp(profile));
  for (const std::string& n : kRuncAfterLoad) EXPECT_TRUE(names.count(n)) << n << " (runc needs it) is missing";
  EXPECT_FALSE(names.count("mkdir")) << "the traced command makes no directory";

  auto same = box_with(kScript, profile);
  EXPECT_EQ(same.code, 0) << same.output;
  EXPECT_EQ(same.output, "hi\n");

  auto denied = box_with(kMore, profile);
  EXPECT_EQ(denied.code, 1) << denied.output;
  // The client passes the container's stdout and stderr on in either order.
  EXPECT_NE(denied.output.find("hi\n"), std::string::npos) << denied.output;
  EXPECT_NE(denied.output.find("mkdir: can't create directory '/d': Operation not permitted"), std::string::npos)
      << denied.output;
  // Docker's own default profile lets it: the EPERM is this profile's.
  auto free = box(kMore + " && echo made");
  EXPECT_EQ(free.code, 0) << free.output;
  EXPECT_NE(free.output.find("made"), std::string::npos) << free.output;
}

// The finding above, as a test: the container command's own calls (after its
// execve) are not enough, and with runc's list they are.
TEST_F(SeccompDockerTest, RuncNeedsItsOwnCallsBetweenTheSeccompLoadAndExec) {
  ASSERT_TRUE(std::filesystem::create_directory(dir_.path));
  auto traced = trace_box(kScript, dir_.path + "/traced.json", "all");
  ASSERT_EQ(traced.exit_code, 0) << traced.stderr_text;
  // The container's init: the execve of /bin/busybox by runc init (its entry
  // record, so its time is before the exec), then the calls of the container's
  // processes (runc init's other threads, until the exec ends them, keep its name).
  std::optional<nlohmann::json> exec;
  for (const auto& e : traced.named("execve"))
    if (e["args"]["filename"] == "/bin/busybox" && e["comm"].get<std::string>().rfind("runc:", 0) == 0) {
      exec = e;
      break;
    }
  ASSERT_TRUE(exec) << "no execve of /bin/busybox by runc init in " << traced.events.size() << " events";
  std::set<std::string> own{"execve", "rt_sigreturn", "restart_syscall"};  // what the sink adds
  for (const auto& e : traced.events)
    if (e["ts"] > (*exec)["ts"] && e["comm"] == "busybox" && e.value("id", 1000) < 512) own.insert(e["event"]);
  EXPECT_TRUE(own.count("exit_group")) << nlohmann::json(own).dump();

  std::ofstream(dir_.path + "/own.json") << profile_of(own);
  auto alone = box_with(kScript, dir_.path + "/own.json");
  EXPECT_EQ(alone.code, 125) << alone.output;
  EXPECT_NE(alone.output.find("runc create failed"), std::string::npos) << alone.output;
  // How runc dies depends on which of its calls is denied first: most runs an
  // EPERM it reports ("operation not permitted"), some a futex wake it gets -1
  // from, which the Go runtime turns into a crash inside the seccomp load (seen
  // on the CI machine). Both are runc's own calls after the filter went in.
  const bool eperm = alone.output.find("operation not permitted") != std::string::npos;
  const bool crashed_in_load = alone.output.find("fatal error") != std::string::npos &&
                               alone.output.find("seccomp.InitSeccomp") != std::string::npos;
  EXPECT_TRUE(eperm || crashed_in_load) << alone.output;

  std::set<std::string> with = own;
  with.insert(kRuncAfterLoad.begin(), kRuncAfterLoad.end());
  std::ofstream(dir_.path + "/with.json") << profile_of(with);
  auto works = box_with(kScript, dir_.path + "/with.json");
  EXPECT_EQ(works.code, 0) << works.output;
  EXPECT_EQ(works.output, "hi\n");
}

}  // namespace
}  // namespace cgscope::testing
