// The README's headline recipe, run for real: `cgscope proxy attach --cgroup /X
// --relay-addr <bridge address>` and Debian's docker.io `docker build
// --cgroup-parent=/X`, whose RUN step fetches a file from the test host with a
// static busybox wget that has no proxy setting.
//
// The test owns a dockerd of its own: its data root and exec root on a tmpfs it
// mounts (overlay2 works on tmpfs even where / is an overlayfs), its own socket,
// pidfile, config file and client config, its own bridge, and a cgroup that holds
// the daemon, its containerd and the shims. Nothing of the host's docker is read
// or touched (there need be none).
//
// What the test found out about this docker (20.10.24+dfsg1, containerd 1.6.20,
// runc 1.1.5, on a hybrid cgroup host):
//   - The legacy builder (DOCKER_BUILDKIT=0) runs each RUN step in a container
//     whose cgroup is --cgroup-parent/<container id>: runc makes it in every v1
//     hierarchy and, on a hybrid host, in the v2 one (the unified mount) too,
//     which is what the proxy's hooks need. The step prints its /proc/self/cgroup
//     and the test checks the "0::/X/<id>" line.
//   - BuildKit in this dockerd ignores --cgroup-parent (its steps run in
//     /docker/buildkit/<id>, in every hierarchy) and refuses --network=bridge
//     ("network mode \"bridge\" not supported by buildkit"). So: DOCKER_BUILDKIT=0.
//   - runc removes only the leaf: <v1 hierarchy>/X stays in each v1 hierarchy, so
//     the test removes those. dockerd makes /run/docker/plugins, containerd
//     /run/containerd/s (the shims' sockets: a fixed place), and dockerd writes its
//     key to /etc/docker/key.json unless the config file moves it.
#include <sys/stat.h>

#include <algorithm>

#include "core/mountinfo.h"
#include "proxy_fixture.h"

namespace cgscope::testing {
namespace {

// Debian's client and daemon by their paths: a newer client (Docker 28's, say)
// may come first on PATH.
constexpr const char* kDocker = "/usr/bin/docker";
constexpr const char* kDockerd = "/usr/sbin/dockerd";
// A build is a few seconds; its wget is given 5 s.
constexpr auto kBuildLimit = 60s;
constexpr auto kDaemonStartLimit = 30s;
constexpr auto kDaemonStopLimit = 20s;

bool executable(const char* path) { return ::access(path, X_OK) == 0; }

std::string last_lines(const std::string& text, size_t n) {
  size_t at = text.size();
  while (n-- > 0 && at > 0) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
  }
  return text.substr(at + 1);
}

// What the test must leave as it found: the packet filter and IP forwarding.
std::string host_firewall() {
  return run({"sh", "-c",
              "cat /proc/sys/net/ipv4/ip_forward; if command -v iptables >/dev/null; then iptables -S; "
              "iptables -t nat -S; fi"})
      .output;
}

// Removes `dir` and the directories below it, deepest first: a v1 cgroup (rmdir
// takes its control files with it) or a directory tree that should be empty.
void remove_dir_tree(const std::string& dir) {
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
std::vector<std::string> cgroup_v1_mounts() {
  std::vector<std::string> out;
  auto text = read_mountinfo();
  if (!text) return out;
  auto entries = parse_mountinfo(*text);
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].fstype == "cgroup" && mount_visible(entries, i)) out.push_back(entries[i].mount_point);
  return out;
}

// A /24 of 198.19.0.0/16 (the benchmarking range, next to the test hosts'
// 198.18.x) that no route but the default one covers and no address is in.
std::optional<int> free_bridge_net(int start) {
  for (int i = 0; i < 250; ++i) {
    int n = 1 + (start + i) % 250;
    auto routes = run({"ip", "-4", "route", "show", "to", "match", fmt::format("198.19.{}.1", n)});
    auto addrs = run({"ip", "-4", "-o", "addr", "show", "to", fmt::format("198.19.{}.0/24", n)});
    if (routes.code != 0 || addrs.code != 0 || !addrs.output.empty()) continue;
    bool only_default = true;
    std::istringstream in(routes.output);
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line.rfind("default", 0) != 0) only_default = false;
    if (only_default) return n;
  }
  return std::nullopt;
}

// A dockerd of the test's own, a bridge for its containers, and the test host
// and cgroup of ProxyAttachTest: the build runs with --cgroup-parent=/<cg_>.
class ProxyDockerTest : public ProxyAttachTest {
 protected:
  void SetUp() override {
    for (const char* p : {kDockerd, kDocker})
      if (!executable(p)) GTEST_SKIP() << p << " is not installed (scripts/install-deps.sh installs docker.io)";
    ProxyAttachTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto ldd = run({"ldd", "/bin/busybox"});
    ASSERT_TRUE(ldd.output.find("not a dynamic executable") != std::string::npos ||
                ldd.output.find("statically linked") != std::string::npos)
        << "the image is FROM scratch: it needs the static /bin/busybox of busybox-static: " << ldd.output;
    firewall_before_ = host_firewall();
    for (const char* d : {"/run/docker", "/run/containerd"})
      if (!std::filesystem::exists(d)) host_dirs_made_.push_back(d);
    host_dirs_owner_ = Cleanup([this] {
      for (const std::string& d : host_dirs_made_) remove_dir_tree(d);
    });
    v1_owner_ = Cleanup([this, rel = cg_rel()] {
      if (cg_) (void)cg_->kill_all();  // a step left running by a killed daemon
      for (const std::string& m : cgroup_v1_mounts()) remove_dir_tree(m + rel);
    });
    make_home();
    if (HasFatalFailure()) return;
    make_bridge();
    if (HasFatalFailure()) return;
    start_dockerd();
    if (IsSkipped() || HasFatalFailure()) return;
    write_build_context();
  }

  void TearDown() override {
    ProxyAttachTest::TearDown();  // cgscope stopped, its pins gone
    stop_dockerd();
    v1_owner_.run();
    host_dirs_owner_.run();
    if (!firewall_before_.empty())
      EXPECT_EQ(host_firewall(), firewall_before_) << "dockerd changed the host's packet filter or forwarding";
  }

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

  // A bridge of the test's own with the first address of a free /24: dockerd
  // would make docker0 and leave it behind; --bridge takes an existing bridge and
  // its address (and excludes --bip).
  void make_bridge() {
    static int seq = 0;
    auto n = free_bridge_net(getpid() * 7 + seq);
    ASSERT_TRUE(n) << "no free /24 in 198.19.0.0/16 for the docker bridge";
    bridge_ = fmt::format("cgsd{}x{}", getpid() % 100000, seq++ % 100);
    bridge_ip_ = fmt::format("198.19.{}.1", *n);
    bridge_owner_ = Cleanup([name = bridge_] { (void)run({"ip", "link", "del", name}, 10s); });
    for (const std::string& cmd : {fmt::format("ip link add {} type bridge", bridge_),
                                   fmt::format("ip addr add {}/24 dev {}", bridge_ip_, bridge_),
                                   fmt::format("ip link set {} up", bridge_)}) {
      auto r = run({"sh", "-c", cmd});
      ASSERT_EQ(r.code, 0) << cmd << ": " << r.output;
    }
    auto route = run({"ip", "route", "get", fmt::format("198.19.{}.2", *n)});
    ASSERT_NE(route.output.find("dev " + bridge_), std::string::npos) << route.output;
  }

  void start_dockerd() {
    auto m = cgroup2_mount();
    ASSERT_TRUE(m) << m.error().message;
    auto cg = ScopedCgroup::create(*m, unique_name("dockerd"));
    ASSERT_TRUE(cg) << cg.error().message;
    daemon_cg_ = std::make_unique<ScopedCgroup>(std::move(*cg));
    const std::string& h = home_.path;
    // --iptables=false and --ip-forward=false: with the defaults dockerd adds its
    // chains and a MASQUERADE rule for the bridge, turns on IP forwarding and sets
    // FORWARD's policy to DROP, and undoes none of it when it stops; and the
    // masquerade would let the step reach the test host directly. With them the
    // host's firewall and forwarding stay as they were, and a step's packets to
    // the test host are not forwarded (and were they, the test host has no route
    // back to the bridge's /24): only the relay, on the host, reaches it.
    // cgroupfs: --cgroup-parent is a path (the systemd driver takes a slice name).
    // cgroupns host: the step's /proc/self/cgroup shows where it runs, on v2 too.
    std::string cmd = fmt::format(
        "exec {} --config-file {h}/daemon.json --data-root {h}/data --exec-root {h}/exec --pidfile {h}/dockerd.pid "
        "-H unix://{h}/docker.sock --bridge {} --iptables=false --ip-forward=false --ip-masq=false "
        "--storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs --default-cgroupns-mode host "
        ">{h}/dockerd.log 2>&1",
        kDockerd, bridge_, fmt::arg("h", h));
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
                   last_lines(slurp(h + "/dockerd.log"), 15).c_str());
      GTEST_SKIP() << "dockerd cannot start here (its last lines are above)";
    }
    ASSERT_TRUE(up) << "dockerd's API did not answer within 30 s: " << version.output << "\ndockerd's last lines:\n"
                    << last_lines(slurp(h + "/dockerd.log"), 15);
  }

  // SIGTERM and a bounded wait: dockerd then stops its containerd and unmounts
  // what it mounted. Whatever is left dies with the daemon's cgroup.
  void stop_dockerd() {
    if (dockerd_.running()) {
      dockerd_.signal(SIGTERM);
      if (!dockerd_.wait_for(kDaemonStopLimit)) ADD_FAILURE() << "dockerd did not stop within 20 s of SIGTERM";
      dockerd_.end();
    }
    if (daemon_cg_) {
      auto r = daemon_cg_->remove();
      EXPECT_TRUE(r) << r.error().message;
    }
  }

  // The build context: the static busybox and a step that prints its cgroup and
  // fetches the test host's file (no proxy setting anywhere) within 5 s. Not
  // `wget -T 5`: busybox-static 1.35.0-4+deb12u1 is built without wget's -T, and
  // its option parser segfaults on it (status 139) instead of refusing it. And
  // not as the container's pid 1 (the last command of `sh -c` is exec'd, and
  // `timeout` execs what it runs): pid 1 of a pid namespace ignores the SIGTERM.
  void write_build_context() {
    std::string ctx = home_.path + "/ctx";
    std::filesystem::copy_file("/bin/busybox", ctx + "/busybox");
    std::ofstream(ctx + "/Dockerfile") << fmt::format(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox cat /proc/self/cgroup && "
        "/bin/busybox timeout 5 /bin/busybox wget -O /got {}; exit $?\"]\n",
        url());
  }

  RunResult docker(std::vector<std::string> args, Clock::duration limit = 30s) {
    std::vector<std::string> full{"env",   "DOCKER_BUILDKIT=0", kDocker, "--config", home_.path + "/client",
                                  "-H",    "unix://" + home_.path + "/docker.sock"};
    full.insert(full.end(), args.begin(), args.end());
    return run(full, limit);
  }

  // The README's build: its RUN steps in <cgroup2 mount>/<cg_>/<container id>.
  RunResult build() {
    return docker({"build", "--force-rm", "--network=bridge", "--cgroup-parent=" + cg_rel(), "-t", tag_,
                   home_.path + "/ctx"},
                  kBuildLimit);
  }
  std::string cg_rel() const { return relative_cgroup_path(*cgroup2_mount(), cg_->path()); }

  // Declared in the order they are made: destroyed the other way round, so each
  // is gone before what it stands on.
  TempPath home_{"docker"};
  ScopedMount tmpfs_;
  std::vector<std::string> host_dirs_made_;
  Cleanup host_dirs_owner_;
  Cleanup v1_owner_;
  std::string bridge_, bridge_ip_;
  Cleanup bridge_owner_;
  std::unique_ptr<ScopedCgroup> daemon_cg_;
  Child dockerd_;
  std::string firewall_before_;
  const std::string tag_ = fmt::format("cgscope-it-proxy-docker:{}", getpid());
};

TEST_F(ProxyDockerTest, ABuildStepReachesTheTestHostOnlyThroughProxyAttach) {
  const std::string in_cgroup = "0::" + cg_rel() + "/";  // its v2 line: 0::/<cg_>/<id>

  // Without the proxy the step cannot reach the test host.
  auto direct = build();
  ASSERT_TRUE(direct.code) << direct.output;
  EXPECT_NE(*direct.code, 0) << direct.output;
  EXPECT_NE(direct.output.find(in_cgroup), std::string::npos) << "the step ran in " << in_cgroup << "<id>: "
                                                              << direct.output;
  // 143: SIGTERM from `timeout 5`, with wget still waiting for the connection.
  EXPECT_NE(direct.output.find("returned a non-zero code: 143"), std::string::npos) << direct.output;
  EXPECT_EQ(socks_log().find(peer_ip_), std::string::npos) << socks_log();

  // With `proxy attach` on the cgroup given to --cgroup-parent it can.
  // No --relay-addr: with this bridge the host's only one, cgscope picks its
  // address for the build steps' namespaces (ns_relay.h) and says so. Where the
  // host has other bridges, which one it picks is not this test's to know.
  auto bridges = run({"sh", "-c", "ip -o link show type bridge | wc -l"});
  bool only_bridge = bridges.output.find_first_not_of(" ") != std::string::npos && std::stoi(bridges.output) == 1;
  if (only_bridge) attach({"--via", socks()});
  else attach({"--via", socks(), "--relay-addr", bridge_ip_});
  if (HasFatalFailure()) return;
  if (only_bridge)
    EXPECT_NE(log_.find("other network namespaces reach the relay at " + bridge_ip_ + " (the address of the bridge"),
              std::string::npos)
        << log_;
  else
    EXPECT_NE(log_.find("(relay " + bridge_ip_ + ":"), std::string::npos) << log_;
  auto proxied = build();
  ASSERT_EQ(proxied.code, 0) << proxied.output;
  EXPECT_NE(proxied.output.find(in_cgroup), std::string::npos) << proxied.output;
  EXPECT_NE(proxied.output.find("Successfully tagged " + tag_), std::string::npos) << proxied.output;

  // The file in the image is the test host's, byte for byte.
  std::string box = unique_name("box");
  auto created = docker({"create", "--name", box, tag_, "/bin/busybox", "true"});
  ASSERT_EQ(created.code, 0) << created.output;
  std::string got = home_.path + "/got";
  auto cp = docker({"cp", box + ":/got", got});
  ASSERT_EQ(cp.code, 0) << cp.output;
  std::string fetched = slurp(got);
  EXPECT_TRUE(fetched == body_) << "fetched " << fetched.size() << " bytes, the test host serves " << body_.size();

  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("-> {}:8080 via {}: ok", peer_ip_, socks())), std::string::npos) << log;
  EXPECT_NE(log.find("1 connections proxied, 0 failed"), std::string::npos) << log;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << "microsocks made the connection: " << socks_log();

  // And docker keeps nothing of it.
  EXPECT_EQ(docker({"rm", box}).code, 0);
  auto rmi = docker({"rmi", tag_});
  EXPECT_EQ(rmi.code, 0) << rmi.output;
  EXPECT_EQ(docker({"ps", "-aq"}).output, "");
  EXPECT_EQ(docker({"images", "-aq"}).output, "");
}

}  // namespace
}  // namespace cgscope::testing
