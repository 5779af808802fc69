// The README's headline recipe, run for real: `cgscope proxy attach --cgroup /X
// --relay-addr <bridge address>` and Debian's docker.io `docker build
// --cgroup-parent=/X`, whose RUN step fetches a file from the test host with a
// static busybox wget that has no proxy setting.
//
// The dockerd is the test's own (dockerd.h), on a bridge of the test's.
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
//   - runc removes only the leaf: <v1 hierarchy>/X stays in each v1 hierarchy
//     (dockerd.h removes those).
#include "dockerd.h"

namespace cgscope::testing {
namespace {

// A build is a few seconds; its wget is given 5 s.
constexpr auto kBuildLimit = 60s;

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
      if (::access(p, X_OK) != 0) GTEST_SKIP() << p << " is not installed (scripts/install-deps.sh installs docker.io)";
    ProxyAttachTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    make_bridge();
    if (HasFatalFailure()) return;
    dockerd_.remove_v1_cgroups_after(cg_rel());
    dockerd_.start({.bridge = bridge_});
    if (IsSkipped() || HasFatalFailure()) return;
    write_build_context();
  }

  void TearDown() override {
    ProxyAttachTest::TearDown();  // cgscope stopped, its pins gone
    if (cg_) (void)cg_->kill_all();  // a step left running by a killed daemon
    dockerd_.stop();
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

  // The build context: the static busybox and a step that prints its cgroup and
  // fetches the test host's file (no proxy setting anywhere) within 5 s. Not
  // `wget -T 5`: busybox-static 1.35.0-4+deb12u1 is built without wget's -T, and
  // its option parser segfaults on it (status 139) instead of refusing it. And
  // not as the container's pid 1 (the last command of `sh -c` is exec'd, and
  // `timeout` execs what it runs): pid 1 of a pid namespace ignores the SIGTERM.
  void write_build_context() {
    ASSERT_NO_FATAL_FAILURE(require_static_busybox());
    std::string ctx = dockerd_.home() + "/ctx";
    std::filesystem::copy_file("/bin/busybox", ctx + "/busybox");
    std::ofstream(ctx + "/Dockerfile") << fmt::format(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox cat /proc/self/cgroup && "
        "/bin/busybox timeout 5 /bin/busybox wget -O /got {}; exit $?\"]\n",
        url());
  }

  RunResult docker(std::vector<std::string> args, Clock::duration limit = 30s) {
    return dockerd_.docker(std::move(args), limit);
  }

  // The README's build: its RUN steps in <cgroup2 mount>/<cg_>/<container id>.
  RunResult build() {
    return docker({"build", "--force-rm", "--network=bridge", "--cgroup-parent=" + cg_rel(), "-t", tag_,
                   dockerd_.home() + "/ctx"},
                  kBuildLimit);
  }
  std::string cg_rel() const { return relative_cgroup_path(*cgroup2_mount(), cg_->path()); }

  // The bridge outlives the daemon that uses it (members go in reverse order).
  std::string bridge_, bridge_ip_;
  Cleanup bridge_owner_;
  Dockerd dockerd_;
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
  std::string got = dockerd_.home() + "/got";
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
