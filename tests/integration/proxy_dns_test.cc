// cgscope proxy --dns and the relay address for other network namespaces, end to
// end. The nameserver is this test's own, on the test host (198.18.N.2:53, in
// the test's namespace): over TCP it answers every A query with the test host's
// address; over UDP it answers with a marker address (203.0.113.66, never
// dialled) and counts, so that a query that went around the upstream is seen.
#include <sched.h>
#include <sys/wait.h>

#include <atomic>

#include "proxy_fixture.h"

namespace cgscope::testing {
namespace {

constexpr const char* kName = "www.cgscope.test";
constexpr const char* kLeakMarker = "203.0.113.66";

// A query for `name`, type A, id 0x4242, recursion desired.
std::string dns_query(const std::string& name) {
  std::string q{"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q += char(dot - start);
    q += name.substr(start, dot - start);
    start = dot + 1;
  }
  q += std::string("\0\x00\x01\x00\x01", 5);
  return q;
}

// The reply to `query` with one A record.
std::string dns_reply(const std::string& query, const std::string& ip) {
  std::string r = query;
  r[2] = char(0x81);
  r[3] = char(0x80);
  r[7] = 1;  // ANCOUNT 1
  in_addr a{};
  inet_pton(AF_INET, ip.c_str(), &a);
  r += std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04", 12);
  r.append(reinterpret_cast<const char*>(&a), 4);
  return r;
}

// The A address of a reply, "" if none.
std::string answer_of(const std::string& reply) {
  if (reply.size() < 16) return "";
  char text[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, reply.data() + reply.size() - 4, text, sizeof text);
  return text;
}

class ProxyDnsTest : public ProxyAttachTest {
 protected:
  void SetUp() override {
    ProxyAttachTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::filesystem::create_directories(state_.path);
    ASSERT_TRUE(nameserver_.start_fn([this] { return serve_dns(); }, {.name = "test nameserver"}))
        << nameserver_.error();
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(state_.path + "/ready"); })) << "no nameserver";
  }

  // In the test host's namespace: TCP and UDP on :53 until killed.
  int serve_dns() {
    int ns = ::open(("/run/netns/" + netns_.name()).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) return 1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    inet_pton(AF_INET, peer_ip_.c_str(), &a.sin_addr);
    int tcp = ::socket(AF_INET, SOCK_STREAM, 0), udp = ::socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    ::setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a) || ::listen(tcp, 16) ||
        ::bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a))
      return 1;
    std::ofstream(state_.path + "/ready") << "1";
    std::thread([udp, this] {
      for (int leaks = 1;; leaks++) {
        char buf[512];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(udp, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n <= 0) continue;
        std::ofstream(state_.path + "/udp") << leaks;
        std::string r = dns_reply(std::string(buf, size_t(n)), kLeakMarker);
        ::sendto(udp, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    }).detach();
    for (int served = 1;; served++) {
      int c = ::accept(tcp, nullptr, nullptr);
      if (c < 0) continue;
      unsigned char len[2];
      std::string q;
      if (::recv(c, len, 2, MSG_WAITALL) == 2) {
        q.resize((len[0] << 8) | len[1]);
        if (::recv(c, q.data(), q.size(), MSG_WAITALL) == ssize_t(q.size())) {
          std::string r = dns_reply(q, peer_ip_);
          unsigned char rl[2] = {uint8_t(r.size() >> 8), uint8_t(r.size())};
          ::send(c, rl, 2, MSG_NOSIGNAL);
          ::send(c, r.data(), r.size(), MSG_NOSIGNAL);
          std::ofstream(state_.path + "/tcp") << served;
        }
      }
      ::close(c);
    }
  }

  // A query from a process in the cgroup: the answer, where the reply came from,
  // and (connected) what getpeername says. "error N" on failure.
  struct Asked {
    std::string answer, from, peer;
  };
  Asked ask_from_cgroup(bool connected) {
    TempPath out("dnsask");
    Child c;
    EXPECT_TRUE(c.start_fn(
        [&] {
          UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
          timeval tv{5, 0};
          ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          sockaddr_in ns{};
          ns.sin_family = AF_INET;
          ns.sin_port = htons(53);
          inet_pton(AF_INET, peer_ip_.c_str(), &ns.sin_addr);
          std::string q = dns_query(kName), peer = "-";
          auto* nsa = reinterpret_cast<sockaddr*>(&ns);
          if (connected) {
            if (::connect(s.get(), nsa, sizeof ns) != 0) return std::ofstream(out.path) << "error " << errno, 0;
            sockaddr_in p{};
            socklen_t pl = sizeof p;
            if (::getpeername(s.get(), reinterpret_cast<sockaddr*>(&p), &pl) == 0)
              peer = format_address(*reinterpret_cast<sockaddr_storage*>(&p));
          }
          if (::sendto(s.get(), q.data(), q.size(), 0, connected ? nullptr : nsa, connected ? 0 : sizeof ns) < 0)
            return std::ofstream(out.path) << "error " << errno, 0;
          char buf[512];
          sockaddr_storage from{};
          socklen_t fl = sizeof from;
          ssize_t n = ::recvfrom(s.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
          if (n < 0) return std::ofstream(out.path) << "error " << errno, 0;
          std::ofstream(out.path) << answer_of(std::string(buf, size_t(n))) << " " << format_address(from) << " "
                                  << peer;
          return 0;
        },
        {.cgroup = cg_->path(), .name = "resolver in the cgroup"}))
        << c.error();
    EXPECT_TRUE(c.wait_for(30s));
    std::istringstream in(slurp(out.path));
    Asked a;
    in >> a.answer >> a.from >> a.peer;
    return a;
  }

  static std::string format_address(const sockaddr_storage& ss) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
    char text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &s->sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, ntohs(s->sin_port));
  }
  std::string udp_leaks() const { return slurp(state_.path + "/udp"); }

  TempPath state_{"dnsstate"};
  Child nameserver_;
};

TEST_F(ProxyDnsTest, AConnectedResolverGetsTheAnswerThroughTheUpstreamFromTheServerItAsked) {
  attach({"--via", socks(), "--dns"});
  Asked a = ask_from_cgroup(true);
  EXPECT_EQ(a.answer, peer_ip_) << "the answer must come over TCP through the upstream, not the UDP marker";
  EXPECT_EQ(a.from, peer_ip_ + ":53");
  EXPECT_EQ(a.peer, peer_ip_ + ":53") << "getpeername shows the nameserver dialled";
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("dns {} A from", kName)), std::string::npos) << log;
  EXPECT_NE(log.find("dns: 1 queries, 1 answered"), std::string::npos) << log;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << "microsocks saw no connection: " << socks_log();
  EXPECT_EQ(udp_leaks(), "") << "a query reached the nameserver over UDP, around the upstream";
}

TEST_F(ProxyDnsTest, AnUnconnectedResolverGetsItsReplyFromTheServersAddress) {
  attach({"--via", socks(), "--dns"});
  for (int i = 0; i < 3; i++) {
    Asked a = ask_from_cgroup(false);
    EXPECT_EQ(a.answer, peer_ip_);
    EXPECT_EQ(a.from, peer_ip_ + ":53") << "recvfrom must show the server asked, not the forwarder";
  }
  std::string log = stop_and_log();
  EXPECT_NE(log.find("dns: 3 queries, 3 answered"), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

TEST_F(ProxyDnsTest, WithoutDnsQueriesGoDirectAndWithADeadForwarderTheyFailClosed) {
  // Without --dns, UDP is not touched: the query reaches the server's UDP side.
  attach({"--via", socks()});
  EXPECT_EQ(ask_from_cgroup(true).answer, kLeakMarker);
  stop_and_log();
  attached_ = Child();
  log_.clear();
  std::filesystem::remove(state_.path + "/udp");
  // With --dns and cgscope killed, the hooks stay and the forwarder is gone: the
  // query is refused, never sent around the upstream.
  attach({"--via", socks(), "--dns"});
  attached_.signal(SIGKILL);
  ASSERT_TRUE(attached_.wait_for(10s));
  Asked a = ask_from_cgroup(true);
  EXPECT_EQ(a.answer, "error") << "answer " << a.answer << " from " << a.from;
  EXPECT_EQ(a.from, std::to_string(ECONNREFUSED));
  EXPECT_EQ(udp_leaks(), "");
}

TEST_F(ProxyDnsTest, GlibcsResolverInTheCgroupLooksUpThroughTheUpstream) {
  TempPath conf("resolv");
  std::ofstream(conf.path) << "nameserver " << peer_ip_ << "\noptions attempts:1 timeout:3\n";
  attach({"--via", socks(), "--dns"});
  // getent in a mount namespace of its own, with the test's resolv.conf bound over
  // the host's: nothing of the host's configuration changes.
  auto r = run({"sh", "-c",
                fmt::format("echo $$ > {}/cgroup.procs && exec unshare -m sh -c 'mount --bind {} /etc/resolv.conf && "
                            "exec getent ahostsv4 {}'",
                            cg_->path(), conf.path, kName)},
               kRunLimit);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(peer_ip_), std::string::npos) << r.output;
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("dns {} A from", kName)), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

TEST_F(ProxyDnsTest, ASocks5hUpstreamGetsTheNameTheProgramLookedUp) {
  if (!std::filesystem::exists("/etc/hosts")) GTEST_SKIP() << "no /etc/hosts to bind the test's names over";
  // A second microsocks that knows the test name (its own /etc/hosts, in a mount
  // namespace of its own): it can only connect if it is given the name.
  TempPath hosts("hosts"), conf("resolv");
  std::ofstream(hosts.path) << peer_ip_ << " " << kName << "\n";
  std::ofstream(conf.path) << "nameserver " << peer_ip_ << "\noptions attempts:1 timeout:3\n";
  uint16_t port = free_port();
  Child named;
  ASSERT_TRUE(named.start({"unshare", "-m", "sh", "-c",
                           fmt::format("mount --bind {} /etc/hosts && exec microsocks -i 127.0.0.1 -p {}", hosts.path,
                                       port)},
                          {.err = Stream::kPipe, .name = "microsocks with the test's hosts"}))
      << named.error();
  ASSERT_TRUE(eventually([&] { return connects_to("127.0.0.1", port); }));
  attach({"--via", fmt::format("socks5h://127.0.0.1:{}", port), "--dns"});
  TempPath out("byname");
  auto r = run({"sh", "-c",
                fmt::format("echo $$ > {}/cgroup.procs && exec unshare -m sh -c 'mount --bind {} /etc/resolv.conf && "
                            "exec curl -sS --max-time 20 -o {} http://{}:8080/file'",
                            cg_->path(), conf.path, out.path, kName)},
               kRunLimit);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(out.path), body_);
  std::string log = stop_and_log();
  EXPECT_NE(log.find(fmt::format("-> {}:8080 ({}:8080)", kName, peer_ip_)), std::string::npos) << log;
  EXPECT_EQ(udp_leaks(), "");
}

// The relay address for other namespaces, picked from where the cgroup's
// processes are: here a process in the test host's namespace, whose only route
// to the host is the /32 of the veth's host end.
TEST_F(ProxyAttachTest, TheRelayAddressForOtherNamespacesIsPickedFromTheCgroupsProcesses) {
  Child sleeper;
  ASSERT_TRUE(sleeper.start({"ip", "netns", "exec", netns_.name(), "sleep", "60"},
                            {.cgroup = cg_->path(), .name = "sleeper in the test namespace"}))
      << sleeper.error();
  ASSERT_TRUE(eventually([&] { return slurp(cg_->path() + "/cgroup.procs").size() > 0; }));
  // ip netns exec execs sleep in the namespace: wait until it is there.
  std::this_thread::sleep_for(200ms);
  attach({"--via", socks()});
  EXPECT_NE(log_.find("other network namespaces reach the relay at " + host_ip_), std::string::npos) << log_;
  auto [r, got] = wget_in_cgroup_from_namespace();
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(got, body_);
  std::string log = stop_and_log();
  EXPECT_NE(log.find("1 connections proxied"), std::string::npos) << log;
  EXPECT_NE(socks_log().find(peer_ip_), std::string::npos) << socks_log();
}

}  // namespace
}  // namespace cgscope::testing
