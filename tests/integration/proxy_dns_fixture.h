// The fixture of the `cgscope proxy --dns` end-to-end tests. The nameserver is
// the test's own, on the test host (198.18.N.2:53, in the test's namespace):
// over TCP it answers every A query with the test host's address; over UDP it
// answers with a marker address (203.0.113.66, never dialled) and counts, so
// that a query that went around the upstream is seen.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>

#include <atomic>

#include "proxy_fixture.h"

namespace cgscope::testing {

inline constexpr const char* kName = "www.cgscope.test";
inline constexpr const char* kLeakMarker = "203.0.113.66";

// A query for `name`, type A, id 0x4242, recursion desired.
inline std::string dns_query(const std::string& name) {
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
inline std::string dns_reply(const std::string& query, const std::string& ip) {
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
inline std::string answer_of(const std::string& reply) {
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
    if (!enter_test_netns()) return 1;
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

  // A query from a process, in the cgroup or not, in the test host's namespace
  // or not, to `to` (default: the nameserver): the answer, where the reply came
  // from, and (connected) what getpeername says. "error N" on failure (11: no
  // answer within `wait`).
  struct Asked {
    std::string answer, from, peer;
  };
  struct AskFrom {
    bool connected = false;
    bool in_cgroup = true;
    bool in_netns = false;
    std::string ip;  // "": the nameserver
    uint16_t port = 53;
    int wait_s = 5;
  };
  Asked ask(const AskFrom& how) {
    TempPath out("dnsask");
    Child c;
    EXPECT_TRUE(c.start_fn(
        [&] {
          if (how.in_netns && !enter_test_netns()) return std::ofstream(out.path) << "error setns", 0;
          UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
          timeval tv{how.wait_s, 0};
          ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          sockaddr_in ns{};
          ns.sin_family = AF_INET;
          ns.sin_port = htons(how.port);
          inet_pton(AF_INET, how.ip.empty() ? peer_ip_.c_str() : how.ip.c_str(), &ns.sin_addr);
          std::string q = dns_query(kName), peer = "-";
          auto* nsa = reinterpret_cast<sockaddr*>(&ns);
          if (how.connected) {
            if (::connect(s.get(), nsa, sizeof ns) != 0) return std::ofstream(out.path) << "error " << errno, 0;
            sockaddr_in p{};
            socklen_t pl = sizeof p;
            if (::getpeername(s.get(), reinterpret_cast<sockaddr*>(&p), &pl) == 0)
              peer = format_address(*reinterpret_cast<sockaddr_storage*>(&p));
          }
          if (::sendto(s.get(), q.data(), q.size(), 0, how.connected ? nullptr : nsa,
                       how.connected ? 0 : sizeof ns) < 0)
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
        {.cgroup = how.in_cgroup ? cg_->path() : "", .name = "resolver"}))
        << c.error();
    EXPECT_TRUE(c.wait_for(30s));
    std::istringstream in(slurp(out.path));
    Asked a;
    in >> a.answer >> a.from >> a.peer;
    return a;
  }
  Asked ask_from_cgroup(bool connected) { return ask({.connected = connected}); }

  // Joins the test host's namespace (this process: a child's).
  bool enter_test_netns() const {
    UniqueFd ns(::open(("/run/netns/" + netns_.name()).c_str(), O_RDONLY | O_CLOEXEC));
    return ns && ::setns(ns.get(), CLONE_NEWNET) == 0;
  }

  static std::string format_address(const sockaddr_storage& ss) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
    char text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &s->sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, ntohs(s->sin_port));
  }
  std::string udp_leaks() const { return slurp(state_.path + "/udp"); }

  // `sh -c 'CMD'` (no single quotes in it) in `cgroup`, in a mount namespace of
  // its own with a resolv.conf naming the test's nameserver bound over the host's:
  // nothing of the host's configuration changes.
  RunResult run_resolving(const std::string& cgroup, const std::string& cmd) {
    std::ofstream(conf_.path) << "nameserver " << peer_ip_ << "\noptions attempts:1 timeout:3\n";
    return run({"sh", "-c",
                fmt::format("echo $$ > {}/cgroup.procs && exec unshare -m sh -c 'mount --bind {} /etc/resolv.conf && "
                            "{}'",
                            cgroup, conf_.path, cmd)},
               kRunLimit);
  }

  // A second microsocks that knows the test name (its own /etc/hosts, in a mount
  // namespace of its own): it can only connect to it if it is given the name.
  // Its port in named_port_.
  void start_named_socks() {
    if (!std::filesystem::exists("/etc/hosts")) GTEST_SKIP() << "no /etc/hosts to bind the test's names over";
    std::ofstream(hosts_.path) << peer_ip_ << " " << kName << "\n";
    named_port_ = free_port();
    ASSERT_TRUE(named_.start({"unshare", "-m", "sh", "-c",
                              fmt::format("mount --bind {} /etc/hosts && exec microsocks -i 127.0.0.1 -p {}",
                                          hosts_.path, named_port_)},
                             {.err = Stream::kPipe, .name = "microsocks with the test's hosts"}))
        << named_.error();
    ASSERT_TRUE(eventually([&] { return connects_to("127.0.0.1", named_port_); }));
  }

  TempPath state_{"dnsstate"};
  Child nameserver_;
  TempPath hosts_{"hosts"}, conf_{"resolv"};
  Child named_;
  uint16_t named_port_ = 0;
};

}  // namespace cgscope::testing
