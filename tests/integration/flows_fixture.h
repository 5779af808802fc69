// The two "containers" of the --flows tests (trace_flows_test.cc,
// trace_flows_udp_test.cc): a docker-named cgroup and a network namespace each,
// joined by a veth pair in 198.18.N.0/24, a TCP server in B and a client in A
// that send a known number of bytes each way, and a `trace --flows` run in the
// background. Everything made here (namespaces, veths, cgroups, processes) is
// owned and removed even when an assertion fails.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/cgroup2.h"
#include "trace_harness.h"

namespace cgscope::testing {

constexpr uint16_t kPort = 8080;
constexpr size_t kUp = 123457;   // client -> server
constexpr size_t kDown = 54321;  // server -> client

inline std::string random_hex(size_t n) {
  std::random_device rd;
  std::string s;
  for (size_t i = 0; i < n; i++) s += "0123456789abcdef"[rd() % 16];
  return s;
}

// Runs in a forked child: joins the named network namespace ("": stays) and takes `comm`.
inline bool enter(const std::string& netns, const char* comm) {
  ::prctl(PR_SET_NAME, comm);
  if (netns.empty()) return true;
  int fd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  bool ok = fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

inline bool io_all(int fd, size_t n, bool writing) {
  char buf[8192] = {};
  while (n > 0) {
    size_t step = std::min(n, sizeof buf);
    ssize_t r = writing ? ::write(fd, buf, step) : ::read(fd, buf, step);
    if (r <= 0) return false;
    n -= static_cast<size_t>(r);
  }
  return true;
}

inline sockaddr_in address(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// Accepts one connection, reads kUp bytes, writes kDown, closes once the client has.
inline int serve(const std::string& netns, const std::string& ip, uint16_t port, const char* comm) {
  if (!enter(netns, comm)) return 10;
  int s = ::socket(AF_INET, SOCK_STREAM, 0), one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = address(ip, port);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 4) != 0) return 11;
  int c = ::accept(s, nullptr, nullptr);
  if (c < 0 || !io_all(c, kUp, false) || !io_all(c, kDown, true)) return 12;
  char b;
  if (::read(c, &b, 1) != 0) return 13;  // the client's FIN
  ::close(c);
  ::close(s);
  return 0;
}

// Connects (the server may not listen yet), writes kUp bytes, reads kDown, closes.
inline int dial(const std::string& netns, const std::string& ip, uint16_t port, const char* comm) {
  if (!enter(netns, comm)) return 20;
  sockaddr_in a = address(ip, port);
  for (int tries = 0; tries < 200; tries++) {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      bool ok = io_all(s, kUp, true) && io_all(s, kDown, false);
      ::close(s);
      return ok ? 0 : 21;
    }
    ::close(s);
    ::usleep(20 * 1000);
  }
  return 22;
}

// `cgscope trace --flows ARGS --output-file F` in the background, from the
// moment it says it is tracing; finish() stops it and returns what it wrote.
class FlowsRun {
 public:
  explicit FlowsRun(std::vector<std::string> args) : out_("flows") {
    std::vector<std::string> full{CGSCOPE_BIN, "trace", "--flows", "--output-file", out_.path};
    full.insert(full.end(), args.begin(), args.end());
    if (!child_.start(full, {.err = Stream::kPipe, .death_signal = SIGTERM})) {
      ADD_FAILURE() << child_.error();
      return;
    }
    WaitNote note("cgscope --flows to say it is tracing");
    ready_ = read_until(child_.pipe_fd(), err_, Clock::now() + kTraceStartLimit, [](const std::string& s) {
               return s.find("cgscope: tracing") != std::string::npos;
             }) == ReadEnd::kDone;
  }
  bool ready() const { return ready_; }
  const std::string& err() const { return err_; }
  int code() const { return code_; }

  std::string finish() {
    child_.signal(SIGINT);
    code_ = exit_code(child_.wait_for(kTraceFinishLimit));
    if (child_.pipe_fd() >= 0) read_until(child_.pipe_fd(), err_, Clock::now() + 5s);
    std::ifstream in(out_.path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  TempPath out_;
  Child child_;
  bool ready_ = false;
  std::string err_;
  int code_ = -1;
};

inline std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// Two containers, A (client) and B (server), each a docker-named cgroup under a
// parent of the test's and a network namespace, linked by a veth pair.
class TraceFlows : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mount = cgroup2_mount();
    ASSERT_TRUE(mount) << mount.error().message;
    mount_ = *mount;
    auto parent = ScopedCgroup::create(mount_, unique_name("flows"));
    ASSERT_TRUE(parent) << parent.error().message;
    parent_ = std::move(*parent);
    for (auto [cg, id] : {std::pair{&cg_a_, &id_a_}, std::pair{&cg_b_, &id_b_}}) {
      *id = random_hex(64);
      auto c = ScopedCgroup::create(parent_->path(), "docker-" + *id + ".scope");
      ASSERT_TRUE(c) << c.error().message;
      *cg = std::move(*c);
    }
    auto other = ScopedCgroup::create(mount_, unique_name("flows-out"));
    ASSERT_TRUE(other) << other.error().message;
    other_ = std::move(*other);
    make_network();
  }

  // 198.18.N.1 (A) and .2 (B): an N whose addresses the host neither has nor
  // routes anywhere but its default route (this machine's uplink is 192.0.2.0/24).
  void make_network() {
    int n = 1 + (getpid() * 13) % 250;
    for (int tries = 0; tries < 250 && !free_net(n); tries++) n = n % 250 + 1;
    ip_a_ = fmt::format("198.18.{}.1", n);
    ip_b_ = fmt::format("198.18.{}.2", n);
    ASSERT_TRUE(ns_a_.create(unique_name("fa"))) << ns_a_.error();
    ASSERT_TRUE(ns_b_.create(unique_name("fb"))) << ns_b_.error();
    std::string va = fmt::format("cgf{}a", getpid() % 100000), vb = fmt::format("cgf{}b", getpid() % 100000);
    for (const std::string& cmd :
         {fmt::format("ip -n {} link add {} type veth peer name {} netns {}", ns_a_.name(), va, vb, ns_b_.name()),
          fmt::format("ip -n {} addr add {}/24 dev {}", ns_a_.name(), ip_a_, va),
          fmt::format("ip -n {} addr add {}/24 dev {}", ns_b_.name(), ip_b_, vb),
          fmt::format("ip -n {} link set {} up", ns_a_.name(), va), fmt::format("ip -n {} link set {} up", ns_b_.name(), vb),
          fmt::format("ip -n {} link set lo up", ns_a_.name()), fmt::format("ip -n {} link set lo up", ns_b_.name())}) {
      auto r = run({"sh", "-c", cmd});
      ASSERT_EQ(r.code, 0) << cmd << ": " << r.output;
    }
    auto route = run({"ip", "-n", ns_a_.name(), "route", "get", ip_b_});
    ASSERT_NE(route.output.find("dev " + va), std::string::npos) << route.output;
    // Each container's first process, for its whole life (as a container's init):
    // what cgscope reads a namespace's addresses from.
    for (auto [child, cg, ns] : {std::tuple{&init_a_, &cg_a_, &ns_a_}, std::tuple{&init_b_, &cg_b_, &ns_b_}})
      ASSERT_TRUE(child->start({"ip", "netns", "exec", ns->name(), "sleep", "600"}, {.cgroup = (*cg)->path()}))
          << child->error();
  }

  static bool free_net(int n) {
    auto route = run({"ip", "-o", "route", "get", fmt::format("198.18.{}.2", n)});
    auto addrs = run({"ip", "-o", "addr", "show", "to", fmt::format("198.18.{}.0/24", n)});
    return route.code == 0 && route.output.find("local") == std::string::npos &&
           route.output.find(" via ") != std::string::npos && addrs.output.empty();
  }

  // The server in B and the client in A, held in their cgroups until release().
  void start_pair() {
    std::string nb = ns_b_.name(), na = ns_a_.name(), ib = ip_b_;
    ASSERT_TRUE(server_.start_fn([nb, ib] { return serve(nb, ib, kPort, "flow-server"); },
                                 {.cgroup = cg_b_->path(), .held = true}))
        << server_.error();
    ASSERT_TRUE(client_.start_fn([na, ib] { return dial(na, ib, kPort, "flow-client"); },
                                 {.cgroup = cg_a_->path(), .held = true}))
        << client_.error();
  }

  // Whether process `pid` has a TCP socket listening on `port` in its network
  // namespace (/proc/PID/net/tcp: local address "IP:PORT" in hex, state 0A).
  static bool listening(pid_t pid, uint16_t port) {
    std::ifstream in(fmt::format("/proc/{}/net/tcp", pid));
    std::string want = fmt::format(":{:04X}", port);
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string sl, local, remote, state;
      f >> sl >> local >> remote >> state;
      if (state == "0A" && local.size() > want.size() && local.ends_with(want)) return true;
    }
    return false;
  }

  // Releases both, the client once the server listens (a refused try of the
  // client's would be a connection of its own); waits for them; and a loopback
  // connection out of scope.
  void talk() {
    ASSERT_TRUE(server_.release()) << server_.error();
    auto until = Clock::now() + 10s;
    while (!listening(server_.pid(), kPort) && Clock::now() < until) usleep(10 * 1000);
    ASSERT_TRUE(listening(server_.pid(), kPort)) << "the server did not listen";
    ASSERT_TRUE(client_.release()) << client_.error();
    auto cs = client_.wait_for(30s), ss = server_.wait_for(30s);
    EXPECT_EQ(exit_code(cs), 0) << "client";
    EXPECT_EQ(exit_code(ss), 0) << "server";
    Child out_server, out_client;
    ASSERT_TRUE(out_server.start_fn([] { return serve("", "127.0.0.1", 18081, "flow-outsider"); }, {.cgroup = other_->path()}));
    ASSERT_TRUE(out_client.start_fn([] { return dial("", "127.0.0.1", 18081, "flow-outsider"); }, {.cgroup = other_->path()}));
    EXPECT_EQ(exit_code(out_client.wait_for(30s)), 0);
    EXPECT_EQ(exit_code(out_server.wait_for(30s)), 0);
    usleep(300 * 1000);  // the last ACK of the close reaches the server's socket
  }

  std::string rel(const std::optional<ScopedCgroup>& cg) const { return cg->path().substr(mount_.size()); }

  std::string mount_, id_a_, id_b_, ip_a_, ip_b_;
  std::optional<ScopedCgroup> parent_, cg_a_, cg_b_, other_;
  ScopedNetns ns_a_, ns_b_;  // deleting a namespace deletes its end of the veth, and so both
  Child init_a_, init_b_, server_, client_;
};

}  // namespace cgscope::testing
