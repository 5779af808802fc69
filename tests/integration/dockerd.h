// A dockerd of a test's own (Debian's docker.io), owned like everything else a
// test makes (owned.h): its data root and exec root on a tmpfs it mounts
// (overlay2 works on tmpfs even where / is an overlayfs), its own socket,
// pidfile, config file and client config, a cgroup that holds the daemon, its
// containerd and the shims, and --iptables=false --ip-forward=false
// --ip-masq=false, so that the host's packet filter and forwarding stay as they
// were (checked when it stops). Nothing of the host's docker is read or touched
// (there need be none). Containers get the bridge the test gives, or none
// (--bridge=none: only --network=none then).
//
//   Dockerd d;
//   d.start({.bridge = ""});                  // GTEST_SKIPs where dockerd cannot start
//   if (IsSkipped() || HasFatalFailure()) return;
//   d.build_busybox_image(tag);                // FROM scratch + the static /bin/busybox
//   d.docker({"run", "--rm", "--network=none", tag, "/bin/busybox", "true"});
//   d.remove_v1_cgroups_after(rel);            // for a --cgroup-parent=rel
//
// What was found about this docker (20.10.24+dfsg1, containerd 1.6.20, runc
// 1.1.5, on a hybrid cgroup host):
//   - With the cgroupfs driver a container's cgroup is --cgroup-parent/<id>,
//     made by runc in every v1 hierarchy and, on a hybrid host, in the v2 one.
//     runc removes only the leaf: <v1 hierarchy>/<parent> stays in each v1
//     hierarchy, so the owner removes those.
//   - dockerd makes /run/docker and /run/docker/plugins, containerd
//     /run/containerd/s (the shims' sockets: a fixed place); the owner removes
//     the ones that were not there before. dockerd writes its key to
//     /etc/docker/key.json unless the config file moves it.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include "core/mountinfo.h"
#include "proxy_fixture.h"  // eventually(), slurp()

namespace cgscope::testing {

// Debian's client and daemon by their paths: a newer client (Docker 28's, say)
// may come first on PATH.
inline constexpr const char* kDocker = "/usr/bin/docker";
inline constexpr const char* kDockerd = "/usr/sbin/dockerd";
inline constexpr auto kDaemonStartLimit = 30s;
inline constexpr auto kDaemonStopLimit = 20s;

inline std::string last_lines(const std::string& text, size_t n) {
  size_t at = text.size();
  while (n-- > 0 && at > 0) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
  }
  return text.substr(at + 1);
}

// What a test must leave as it found: the packet filter and IP forwarding.
inline std::string host_firewall() {
  return run({"sh", "-c",
              "cat /proc/sys/net/ipv4/ip_forward; if command -v iptables >/dev/null; then iptables -S; "
              "iptables -t nat -S; fi"})
      .output;
}

// Removes `dir` and the directories below it, deepest first: a v1 cgroup (rmdir
// takes its control files with it) or a directory tree that should be empty.
inline void remove_dir_tree(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return;
  std::vector<std::string> dirs{dir};
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path().string());
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  for (const std::string& d : dirs) {
    int err = 0;  // a cgroup just emptied may be busy for a moment
    eventually([&] { return ::rmdir(d.c_str()) == 0 || (err = errno) == ENOENT || err != EBUSY; }, 5s);
    if (std::filesystem::exists(d, ec))
      std::fprintf(stderr, "cgscope tests: cannot remove %s: %s\n", d.c_str(), std::strerror(err));
  }
}

// The mount points of the cgroup v1 hierarchies (none on a pure v2 host).
inline std::vector<std::string> cgroup_v1_mounts() {
  std::vector<std::string> out;
  auto text = read_mountinfo();
  if (!text) return out;
  auto entries = parse_mountinfo(*text);
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].fstype == "cgroup" && mount_visible(entries, i)) out.push_back(entries[i].mount_point);
  return out;
}

// A fatal failure unless /bin/busybox is static: images are FROM scratch.
inline void require_static_busybox() {
  auto ldd = run({"ldd", "/bin/busybox"});
  ASSERT_TRUE(ldd.output.find("not a dynamic executable") != std::string::npos ||
              ldd.output.find("statically linked") != std::string::npos)
      << "the image is FROM scratch: it needs the static /bin/busybox of busybox-static: " << ldd.output;
}

struct DockerdOptions {
  std::string bridge;  // an existing bridge for --bridge; "" is --bridge=none
};

class Dockerd {
 public:
  Dockerd() = default;
  Dockerd(const Dockerd&) = delete;
  Dockerd& operator=(const Dockerd&) = delete;
  ~Dockerd() { stop(); }

  // Starts it and waits for its API. GTEST_SKIPs (the caller checks IsSkipped())
  // when the binaries are missing or dockerd exits at once (its last lines are
  // printed); a fatal failure for anything else.
  void start(const DockerdOptions& o) {
    for (const char* p : {kDockerd, kDocker})
      if (::access(p, X_OK) != 0) GTEST_SKIP() << p << " is not installed (scripts/install-deps.sh installs docker.io)";
    firewall_before_ = host_firewall();
    for (const char* d : {"/run/docker", "/run/containerd"})
      if (!std::filesystem::exists(d)) host_dirs_made_.push_back(d);
    make_home();
    if (::testing::Test::HasFatalFailure()) return;
    launch(o);
  }

  // SIGTERM and a bounded wait: dockerd then stops its containerd and unmounts
  // what it mounted. Whatever is left dies with the daemon's cgroup; then the
  // v1 cgroups, the host directories and the tmpfs go. Idempotent.
  void stop() {
    if (dockerd_.running()) {
      dockerd_.signal(SIGTERM);
      if (!dockerd_.wait_for(kDaemonStopLimit)) ADD_FAILURE() << "dockerd did not stop within 20 s of SIGTERM";
      dockerd_.end();
    }
    if (daemon_cg_) {
      auto r = daemon_cg_->remove();
      EXPECT_TRUE(r) << r.error().message;
      daemon_cg_.reset();
    }
    for (const std::string& rel : v1_parents_)
      for (const std::string& m : cgroup_v1_mounts()) remove_dir_tree(m + rel);
    v1_parents_.clear();
    for (const std::string& d : host_dirs_made_) remove_dir_tree(d);
    host_dirs_made_.clear();
    tmpfs_.remove();
    home_.remove();
    if (!firewall_before_.empty())
      EXPECT_EQ(host_firewall(), firewall_before_) << "dockerd changed the host's packet filter or forwarding";
    firewall_before_.clear();
  }

  // The client on this daemon's socket, with a config directory of its own.
  RunResult docker(std::vector<std::string> args, Clock::duration limit = 30s) const {
    std::vector<std::string> full{"env",   "DOCKER_BUILDKIT=0", kDocker, "--config", home_.path + "/client",
                                  "-H",    "unix://" + home_.path + "/docker.sock"};
    full.insert(full.end(), args.begin(), args.end());
    return run(full, limit);
  }

  // An image FROM scratch with Debian's static busybox as /bin/busybox (legacy
  // builder: BuildKit of this dockerd ignores --cgroup-parent). Fatal failure if
  // /bin/busybox is not static.
  void build_busybox_image(const std::string& tag) {
    ASSERT_NO_FATAL_FAILURE(require_static_busybox());
    std::string ctx = home_.path + "/ctx";
    std::filesystem::copy_file("/bin/busybox", ctx + "/busybox", std::filesystem::copy_options::overwrite_existing);
    std::ofstream(ctx + "/Dockerfile") << "FROM scratch\nCOPY busybox /bin/busybox\n";
    auto built = docker({"build", "--force-rm", "-t", tag, ctx}, 60s);
    ASSERT_EQ(built.code, 0) << built.output;
  }

  // Containers run with --cgroup-parent=rel: what runc leaves of rel in the v1
  // hierarchies is removed when the daemon stops.
  void remove_v1_cgroups_after(const std::string& rel) { v1_parents_.push_back(rel); }

  const std::string& home() const { return home_.path; }
  std::string log_tail(size_t n = 15) const { return last_lines(slurp(home_.path + "/dockerd.log"), n); }

 private:
  // The daemon's files, all on a tmpfs of the test's.
  void make_home() {
    ASSERT_TRUE(std::filesystem::create_directories(home_.path));
    ASSERT_TRUE(tmpfs_.mount("tmpfs", home_.path, "tmpfs", 0, "size=256m,mode=0700")) << tmpfs_.error();
    for (const char* d : {"data", "exec", "client", "ctx"}) std::filesystem::create_directories(home_.path + "/" + d);
    // Only the key's place: without a config file of its own dockerd would read the
    // host's /etc/docker/daemon.json, and it writes its key to /etc/docker/key.json.
    std::ofstream(home_.path + "/daemon.json") << fmt::format(R"({{"deprecated-key-path": "{}/key.json"}})" "\n",
                                                               home_.path);
  }

  // cgroupfs: --cgroup-parent is a path (the systemd driver takes a slice name).
  // cgroupns host: a container's /proc/self/cgroup shows where it runs, on v2 too.
  void launch(const DockerdOptions& o) {
    auto m = cgroup2_mount();
    ASSERT_TRUE(m) << m.error().message;
    auto cg = ScopedCgroup::create(*m, unique_name("dockerd"));
    ASSERT_TRUE(cg) << cg.error().message;
    daemon_cg_ = std::make_unique<ScopedCgroup>(std::move(*cg));
    const std::string& h = home_.path;
    std::string cmd = fmt::format(
        "exec {} --config-file {h}/daemon.json --data-root {h}/data --exec-root {h}/exec --pidfile {h}/dockerd.pid "
        "-H unix://{h}/docker.sock --bridge {} --iptables=false --ip-forward=false --ip-masq=false "
        "--storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs --default-cgroupns-mode host "
        ">{h}/dockerd.log 2>&1",
        kDockerd, o.bridge.empty() ? "none" : o.bridge, fmt::arg("h", h));
    ASSERT_TRUE(dockerd_.start({"sh", "-c", cmd},
                               {.cgroup = daemon_cg_->path(), .death_signal = SIGTERM, .name = "dockerd"}))
        << dockerd_.error();
    RunResult version;
    bool up = eventually(
        [&] {
          if (dockerd_.wait_for(0s)) return true;  // it exited
          version = docker({"version", "--format", "{{.Client.Version}} {{.Server.Version}}"}, 10s);
          return version.code == 0;
        },
        kDaemonStartLimit);
    if (!dockerd_.running()) {
      std::fprintf(stderr, "dockerd exited (%s); its last lines:\n%s\n", describe_status(dockerd_.status()).c_str(),
                   log_tail().c_str());
      GTEST_SKIP() << "dockerd cannot start here (its last lines are above)";
    }
    ASSERT_TRUE(up) << "dockerd's API did not answer within 30 s: " << version.output << "\ndockerd's last lines:\n"
                    << log_tail();
  }

  // Declared in the order they are made; stop() undoes them the other way round.
  TempPath home_{"docker"};
  ScopedMount tmpfs_;
  std::vector<std::string> host_dirs_made_;
  std::vector<std::string> v1_parents_;
  std::unique_ptr<ScopedCgroup> daemon_cg_;
  Child dockerd_;
  std::string firewall_before_;
};

}  // namespace cgscope::testing
