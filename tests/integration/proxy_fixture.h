// The fixture of the proxy end-to-end tests: a test host (a network namespace of
// the test's own, joined by a veth, its address routed on the host as a /32 into
// it, so nothing can leave the machine) serving a 1 MiB file with busybox httpd, a
// microsocks upstream on loopback, and for ProxyAttachTest a cgroup of the test's.
// Every test file of the proxy includes this one; each owns what it makes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/cgroup2.h"
#include "core/unique_fd.h"
#include "owned.h"

namespace cgscope::testing {

inline constexpr auto kRunLimit = 60s;

inline bool have(const char* tool) { return run({"sh", "-c", fmt::format("command -v {}", tool)}, 10s).code == 0; }

inline uint16_t free_port() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  return ntohs(a.sin_port);
}

// Polls `ok` until it holds or `limit` passes.
inline bool eventually(const std::function<bool()>& ok, Clock::duration limit = 10s) {
  auto end = Clock::now() + limit;
  while (!ok()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    for (const char* t : {"microsocks", "busybox", "curl"})
      if (!have(t)) GTEST_SKIP() << t << " is not installed (scripts/install-deps.sh installs it)";
    make_test_host();
    if (HasFatalFailure()) return;
    serve_file();
    if (HasFatalFailure()) return;
    socks_port_ = free_port();
    ASSERT_TRUE(socks_.start({"microsocks", "-i", "127.0.0.1", "-p", std::to_string(socks_port_)},
                             {.err = Stream::kPipe, .name = "microsocks"}))
        << socks_.error();
    ASSERT_TRUE(eventually([&] { return connects_to("127.0.0.1", socks_port_); })) << "microsocks did not listen";
  }

  // The test host: 198.18.N.2 in a namespace of its own, reached over a veth
  // whose host end is 198.18.N.1, with only a /32 route on the host.
  void make_test_host() {
    // Each test its own addresses and link name: a namespace deleted by the test
    // before may take the kernel a moment to tear down, veth and routes with it.
    static int seq = 0;
    int n = 1 + (getpid() * 7 + seq) % 250;
    // Another test binary running at once (a second checkout's, say) may hold
    // 198.18.N: take the next N that no route or address uses.
    for (int tries = 0; tries < 250 && !free_net(n); tries++) n = n % 250 + 1;
    host_ip_ = fmt::format("198.18.{}.1", n);
    peer_ip_ = fmt::format("198.18.{}.2", n);
    std::string ns = unique_name("px");
    ASSERT_TRUE(netns_.create(ns));
    veth_ = fmt::format("cgsp{}x{}", getpid() % 100000, seq++ % 100);
    veth_owner_ = Cleanup([name = veth_] { (void)run({"ip", "link", "del", name}, 10s); });
    for (const std::string& cmd :
         {fmt::format("ip link add {} type veth peer name {}n netns {}", veth_, veth_, ns),
          fmt::format("ip addr add {}/32 dev {}", host_ip_, veth_), fmt::format("ip link set {} up", veth_),
          fmt::format("ip route add {}/32 dev {}", peer_ip_, veth_),
          fmt::format("ip -n {} addr add {}/32 dev {}n", ns, peer_ip_, veth_),
          fmt::format("ip -n {} link set {}n up", ns, veth_), fmt::format("ip -n {} link set lo up", ns),
          fmt::format("ip -n {} route add {}/32 dev {}n", ns, host_ip_, veth_)}) {
      auto r = run({"sh", "-c", cmd});
      ASSERT_EQ(r.code, 0) << cmd << ": " << r.output;
    }
    // Before any traffic: the address is the test host's, not the uplink's.
    auto route = run({"ip", "route", "get", peer_ip_});
    ASSERT_NE(route.output.find("dev " + veth_), std::string::npos) << route.output;
  }

  static bool free_net(int n) {
    auto routes = run({"sh", "-c", fmt::format("ip -o route show to match 198.18.{}.2 | grep -v '^default'", n)});
    auto addrs = run({"ip", "-o", "addr", "show", "to", fmt::format("198.18.{}.0/24", n)});
    return routes.output.empty() && addrs.output.empty();
  }

  void serve_file() {
    std::filesystem::create_directories(www_.path);
    std::mt19937 rng(42);
    body_.resize(1 << 20);
    for (char& c : body_) c = char(rng());
    std::ofstream(www_.path + "/file", std::ios::binary) << body_;
    ASSERT_TRUE(httpd_.start({"ip", "netns", "exec", netns_.name(), "busybox", "httpd", "-f", "-p",
                              peer_ip_ + ":8080", "-h", www_.path},
                             {.name = "busybox httpd"}))
        << httpd_.error();
    ASSERT_TRUE(eventually([&] { return connects_to(peer_ip_, 8080); })) << "httpd did not listen";
  }

  static bool connects_to(const std::string& ip, uint16_t port) {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    return ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }

  std::string url() const { return fmt::format("http://{}:8080/file", peer_ip_); }
  std::string socks() const { return fmt::format("socks5://127.0.0.1:{}", socks_port_); }

  // `cgscope proxy run --via VIA -- ARGV`, to completion.
  RunResult proxy_run(const std::string& via, std::vector<std::string> argv) {
    std::vector<std::string> full{CGSCOPE_BIN, "proxy", "run", "--via", via, "--"};
    full.insert(full.end(), argv.begin(), argv.end());
    return run(full, kRunLimit);
  }

  // What microsocks printed so far.
  std::string socks_log() {
    std::string out;
    socks_.read_out(out, 200ms);
    socks_log_ += out;
    return socks_log_;
  }

  ScopedNetns netns_;
  std::string veth_, host_ip_, peer_ip_;
  Cleanup veth_owner_;  // deleting the host end deletes both, and their routes
  TempPath www_{"www"};
  TempPath got_{"got"};
  std::string body_;
  Child httpd_, socks_;
  uint16_t socks_port_ = 0;
  std::string socks_log_;
};

// `cgscope proxy attach` on a cgroup of the test's; connects run from children in it.
class ProxyAttachTest : public ProxyTest {
 protected:
  void SetUp() override {
    ProxyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto m = cgroup2_mount();
    ASSERT_TRUE(m) << m.error().message;
    auto cg = ScopedCgroup::create(*m, unique_name("pxa"));
    ASSERT_TRUE(cg) << cg.error().message;
    cg_ = std::make_unique<ScopedCgroup>(std::move(*cg));
  }
  void TearDown() override {
    if (attached_.running()) {
      attached_.signal(SIGTERM);
      (void)attached_.wait_for(20s);
    }
    // A cgscope killed on purpose leaves its pins: that is the fail-closed state.
    if (cg_) (void)run({CGSCOPE_BIN, "proxy", "reset", "--cgroup", cg_->path()}, 20s);
  }
  // Starts `proxy attach --cgroup CG ARGS` and waits for its start line.
  void attach(std::vector<std::string> args) {
    std::vector<std::string> full{CGSCOPE_BIN, "proxy", "attach", "--cgroup", cg_->path()};
    full.insert(full.end(), args.begin(), args.end());
    ASSERT_TRUE(attached_.start(full, {.err = Stream::kPipe, .death_signal = SIGTERM, .name = "proxy attach"}))
        << attached_.error();
    ASSERT_EQ(read_until(attached_.pipe_fd(), log_, Clock::now() + 30s,
                         [](const std::string& s) { return s.find("cgscope: proxying") != std::string::npos; }),
              ReadEnd::kDone)
        << log_;
  }
  // What `proxy attach` printed until it exits after SIGTERM.
  std::string stop_and_log() {
    attached_.signal(SIGTERM);
    EXPECT_TRUE(attached_.wait_for(20s));
    read_until(attached_.pipe_fd(), log_, Clock::now() + 5s);
    return log_;
  }
  // A connect from a process in the cgroup: errno (0: connected) and getpeername.
  std::pair<int, std::string> connect_from_cgroup(const std::string& ip, uint16_t port) {
    TempPath out("peer");
    Child c;
    EXPECT_TRUE(c.start_fn(
        [&] {
          UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
          sockaddr_in a{};
          a.sin_family = AF_INET;
          a.sin_port = htons(port);
          inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
          int err = ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
          sockaddr_in peer{};
          socklen_t len = sizeof peer;
          char text[INET_ADDRSTRLEN] = "?";
          if (!err && ::getpeername(s.get(), reinterpret_cast<sockaddr*>(&peer), &len) == 0)
            inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
          std::ofstream(out.path) << err << " " << text << ":" << ntohs(peer.sin_port);
          return 0;
        },
        {.cgroup = cg_->path(), .name = "client in the cgroup"}))
        << c.error();
    EXPECT_TRUE(c.wait_for(30s));
    std::istringstream in(slurp(out.path));
    int err = -1;
    std::string peer;
    in >> err >> peer;
    return {err, peer};
  }

  // A static busybox wget of the test file from a process in the cgroup and in
  // the test host's namespace (as a bridged build step would be); the body got.
  std::pair<RunResult, std::string> wget_in_cgroup_from_namespace() {
    TempPath out("nsgot");
    auto r = run({"sh", "-c",
                  fmt::format("echo $$ > {}/cgroup.procs && exec ip netns exec {} busybox wget -q -O {} {}",
                              cg_->path(), netns_.name(), out.path, url())},
                 kRunLimit);
    return {r, slurp(out.path)};
  }

  std::unique_ptr<ScopedCgroup> cg_;
  Child attached_;
  std::string log_;
};

}  // namespace cgscope::testing
