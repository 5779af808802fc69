// The relay of `cgscope proxy` against real upstreams from Debian's packages
// (microsocks, dante-server, tinyproxy), each started here on loopback and
// stopped after. No BPF: the test client connects straight to the relay from a
// port it bound first, and the relay's lookup maps that port to the real
// destination, an echo server played by a thread of this test. All traffic is
// on 127.0.0.1.
#include <fcntl.h>
#include <netdb.h>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "owned.h"
#include "proxy/relay.h"
#include "proxy/socket_util.h"

namespace cgscope::testing {
namespace {

using proxy::AccessRecord;
using proxy::Destination;
using proxy::Original;
using proxy::Relay;
using proxy::Upstream;

// ---------------------------------------------------------------------------
// Loopback helpers

sockaddr_storage loopback(uint16_t port) { return proxy::make_destination("127.0.0.1", port)->addr; }

// A port nothing listens on now (bound, read, closed: free for a daemon to take).
uint16_t free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage a = loopback(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(sockaddr_in)) != 0) return 0;
  return proxy::address_port(*proxy::local_address(fd.get()));
}

// Waits until something accepts connections on 127.0.0.1:port.
bool wait_listening(uint16_t port, Clock::duration limit = 10s) {
  WaitNote note("a listener on 127.0.0.1:" + std::to_string(port));
  auto end = Clock::now() + limit;
  sockaddr_storage a = loopback(port);
  while (Clock::now() < end) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(sockaddr_in)) == 0) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Waits until `path` holds `needle`; returns the file as it was last read.
std::string wait_for_text(const std::string& path, const std::string& needle, Clock::duration limit = 5s) {
  WaitNote note("\"" + needle + "\" in " + path);
  auto end = Clock::now() + limit;
  std::string text;
  do {
    text = read_file(path);
    if (text.find(needle) != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  } while (Clock::now() < end);
  return text;
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// ---------------------------------------------------------------------------
// The destination: an echo server in a thread (epoll, non-blocking), which can
// also speak first (a banner) to check that bytes an upstream sends right
// behind its reply reach the client.

class EchoServer {
 public:
  explicit EchoServer(std::string banner = "") : banner_(std::move(banner)) {}
  ~EchoServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Listens on 127.0.0.1:P and [::1]:P, one port for both, so that a name
  // ("localhost") reaches it whichever address the upstream picks.
  bool start(uint16_t port = 0) {
    for (int attempt = 0; attempt < 20 && !listener6_; ++attempt) {
      auto fd = proxy::listen_tcp(loopback(port), 4096);
      if (!fd) return false;
      port_ = proxy::address_port(*proxy::local_address(fd->get()));
      auto fd6 = proxy::listen_tcp(proxy::make_destination("::1", port_)->addr, 4096);
      if (!fd6) continue;  // that port is taken on ::1: another pair
      listener_ = std::move(*fd);
      listener6_ = std::move(*fd6);
    }
    if (!listener6_) return false;
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    watch(listener_.get(), EPOLLIN);
    watch(listener6_.get(), EPOLLIN);
    thread_ = std::thread([this] { loop(); });
    return true;
  }
  uint16_t port() const { return port_; }
  Destination destination(const char* ip = "127.0.0.1", std::string host = "") const {
    return *proxy::make_destination(ip, port_, std::move(host));
  }
  int accepted() const { return accepted_; }
  int resets() const { return resets_; }
  // The peers it accepted, as "127.0.0.1:port" (who connected: the relay or the upstream).
  std::vector<uint16_t> peer_ports() {
    std::lock_guard<std::mutex> g(mu_);
    return peers_;
  }

 private:
  static constexpr size_t kHold = 1 << 20;  // echo backlog per connection before it stops reading
  struct Conn {
    UniqueFd fd;
    std::string out;
    bool eof = false;
  };

  void watch(int fd, uint32_t events, int op = EPOLL_CTL_ADD) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_.get(), op, fd, &ev);
  }
  void loop() {
    epoll_event evs[128];
    while (!stop_) {
      int n = ::epoll_wait(epoll_.get(), evs, 128, 50);
      for (int i = 0; i < n; ++i) {
        if (evs[i].data.fd == listener_.get() || evs[i].data.fd == listener6_.get())
          accept_all(evs[i].data.fd);
        else
          serve(evs[i].data.fd);
      }
    }
  }
  void accept_all(int listener) {
    for (;;) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      accepted_++;
      {
        std::lock_guard<std::mutex> g(mu_);
        peers_.push_back(proxy::address_port(peer));
      }
      Conn& c = conns_[fd];
      c.fd.reset(fd);
      c.out = banner_;
      watch(fd, EPOLLIN | (c.out.empty() ? 0 : EPOLLOUT));
    }
  }
  void serve(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn& c = it->second;
    char buf[65536];
    while (!c.eof && c.out.size() < kHold) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0)
        c.out.append(buf, static_cast<size_t>(n));
      else if (n == 0)
        c.eof = true;
      else if (errno == EAGAIN)
        break;
      else {
        if (errno == ECONNRESET) resets_++;
        conns_.erase(it);
        return;
      }
    }
    while (!c.out.empty()) {
      ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0)
        c.out.erase(0, static_cast<size_t>(n));
      else if (errno == EAGAIN)
        break;
      else {
        if (errno == ECONNRESET || errno == EPIPE) resets_++;
        conns_.erase(it);
        return;
      }
    }
    if (c.eof && c.out.empty()) {  // all echoed: the end goes back
      conns_.erase(it);
      return;
    }
    watch(fd, (c.eof || c.out.size() >= kHold ? 0 : EPOLLIN) | (c.out.empty() ? 0 : EPOLLOUT), EPOLL_CTL_MOD);
  }

  std::string banner_;
  UniqueFd listener_, listener6_, epoll_;
  uint16_t port_ = 0;
  std::map<int, Conn> conns_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0}, resets_{0};
  std::mutex mu_;
  std::vector<uint16_t> peers_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// The relay in a thread, its lookup a table from client port to destination
// (what the BPF map is in cgscope), its records kept.

class RelayHarness {
 public:
  ~RelayHarness() { stop(); }

  bool splice = true;  // RelayOptions::splice, for start()

  bool start(const std::string& via, std::chrono::milliseconds timeout = 1000ms, size_t max_connections = 100000,
             const char* listen_ip = "127.0.0.1") {
    auto up = proxy::parse_upstream(via);
    if (!up) return failed(up.error().message);
    proxy::RelayOptions o;
    o.listen = {proxy::make_destination(listen_ip, 0)->addr};
    o.upstream = *up;
    o.connect_timeout = timeout;
    o.max_connections = max_connections;
    o.splice = splice;
    o.lookup = [this](const sockaddr_storage& peer, const sockaddr_storage&) -> std::optional<Original> {
      std::lock_guard<std::mutex> g(mu_);
      auto it = table_.find(proxy::address_port(peer));
      if (it == table_.end()) return std::nullopt;
      Original o{it->second, {4242, static_cast<uint32_t>(::getpid()), "relay_test"}};
      table_.erase(it);  // as the BPF record is taken: one use
      return o;
    };
    o.on_close = [this](const AccessRecord& r) {
      std::lock_guard<std::mutex> g(mu_);
      records_.push_back(r);
    };
    o.on_upstream_socket = [this](int) { upstream_sockets_++; };
    o.on_warning = [this](const std::string& w) {
      std::lock_guard<std::mutex> g(mu_);
      warnings_.push_back(w);
    };
    auto r = Relay::create(std::move(o));
    if (!r) return failed(r.error().message);
    relay_.emplace(std::move(*r));
    relay_addr_ = relay_->bound().at(0);
    port_ = proxy::address_port(relay_addr_);
    thread_ = std::thread([this] { result_ = relay_->run(stop_); });
    return true;
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // A client socket, bound first so that its port can go in the table, then
  // connected to the relay (blocking: loopback connects complete at once).
  UniqueFd dial(const Destination& dst, bool nonblocking = false) {
    int family = relay_addr_.ss_family;
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
    sockaddr_storage any = relay_addr_;
    reinterpret_cast<sockaddr_in&>(any).sin_port = 0;  // the same field in sockaddr_in6
    socklen_t len = proxy::address_length(any);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&any), len) != 0) return UniqueFd();
    if (dst.len) {
      std::lock_guard<std::mutex> g(mu_);
      table_[proxy::address_port(*proxy::local_address(fd.get()))] = dst;
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&relay_addr_), len) != 0 && errno != EINPROGRESS)
      return UniqueFd();
    return fd;
  }

  // The records once there are `n` (or what there is after `limit`).
  std::vector<AccessRecord> records(size_t n, Clock::duration limit = 10s) {
    WaitNote note(std::to_string(n) + " access records");
    auto end = Clock::now() + limit;
    for (;;) {
      {
        std::lock_guard<std::mutex> g(mu_);
        if (records_.size() >= n || Clock::now() >= end) return records_;
      }
      std::this_thread::sleep_for(5ms);
    }
  }
  std::vector<std::string> warnings() {
    std::lock_guard<std::mutex> g(mu_);
    return warnings_;
  }
  Relay& relay() { return *relay_; }
  uint16_t port() const { return port_; }
  int upstream_sockets() const { return upstream_sockets_; }
  const std::string& error() const { return error_; }
  bool run_ok() const { return result_.has_value(); }

 private:
  bool failed(std::string e) {
    error_ = std::move(e);
    return false;
  }
  std::mutex mu_;
  std::map<uint16_t, Destination> table_;
  std::vector<AccessRecord> records_;
  std::vector<std::string> warnings_;
  std::optional<Relay> relay_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Result<void> result_;
  uint16_t port_ = 0;
  sockaddr_storage relay_addr_{};
  std::atomic<int> upstream_sockets_{0};
  std::string error_;
};

// ---------------------------------------------------------------------------
// Client side

struct Exchange {
  std::string received;
  int error = 0;  // errno of the read or write that failed
  bool eof = false;
  double seconds = 0;
};

// Writes `data` while reading, until `want` bytes came back, the end of input,
// an error or `limit`: both directions at once, as the echo needs. With `shut`,
// the write side is shut down (SHUT_WR) once `data` is all sent.
Exchange exchange(int fd, const std::string& data, Clock::duration limit = 30s, bool shut = true,
                  size_t want = SIZE_MAX) {
  WaitNote note("an exchange through the relay");
  Exchange x;
  auto start = Clock::now(), end = start + limit;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  size_t off = 0;
  bool shut_done = !shut;
  char buf[65536];
  while (!x.eof && !x.error && x.received.size() < want && Clock::now() < end) {
    if (off == data.size() && !shut_done) {
      ::shutdown(fd, SHUT_WR);
      shut_done = true;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (off < data.size() ? POLLOUT : 0)), 0};
    ::poll(&p, 1, 100);
    if (off < data.size()) {
      ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0)
        off += static_cast<size_t>(n);
      else if (n < 0 && errno != EAGAIN)
        x.error = errno;
    }
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0)
        x.received.append(buf, static_cast<size_t>(n));
      else if (n == 0)
        x.eof = true;
      else if (errno != EAGAIN)
        x.error = errno;
      if (n <= 0) break;
    }
  }
  x.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return x;
}

// A line each way, the connection left open.
std::string ping(int fd, const std::string& line = "ping") {
  return exchange(fd, line, 5s, false, line.size()).received;
}

// Reads until `want` bytes, the end, an error or `limit` (nothing is sent).
Exchange receive(int fd, size_t want, Clock::duration limit = 5s) {
  Exchange x;
  auto start = Clock::now(), end = start + limit;
  char buf[4096];
  while (x.received.size() < want && !x.eof && !x.error && Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0)
      x.received.append(buf, static_cast<size_t>(n));
    else if (n == 0)
      x.eof = true;
    else if (errno != EAGAIN)
      x.error = errno;
  }
  x.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return x;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The relay resets a connection it refuses at once; on a slow machine the reset
// can arrive before connect() returns, which then fails (dial() gives no fd):
// the same outcome, seen sooner. Either way, true when the client was reset.
bool was_reset(const UniqueFd& c) { return !c || receive(c.get(), 1).error == ECONNRESET; }

// ---------------------------------------------------------------------------
// The upstreams, each a Child in its own process group, its log in a TempPath.

bool installed(const char* path) { return ::access(path, X_OK) == 0; }

#define REQUIRE_BINARY(path) \
  if (!installed(path)) GTEST_SKIP() << path << " is not installed (scripts/install-deps.sh installs it)"

struct Daemon {
  TempPath dir{"proxy-upstream"};
  Child child;
  uint16_t port = 0;
  std::string log() const { return dir.path + "/log"; }
  bool started(std::vector<std::string> argv, std::string& err) {
    port = port ? port : free_port();
    // The log goes to a file: a pipe nobody reads would stall a busy daemon.
    std::string cmd = "exec";
    for (auto& a : argv) cmd += " '" + a + "'";
    cmd += " >'" + log() + "' 2>&1";
    if (!child.start({"sh", "-c", cmd}, {.name = argv[0]})) return err = child.error(), false;
    if (!wait_listening(port))
      return err = argv[0] + " did not listen on port " + std::to_string(port) + ": " + read_file(log()), false;
    return true;
  }
};

bool start_microsocks(Daemon& d, std::string& err, const std::string& user = "", const std::string& pass = "") {
  std::filesystem::create_directories(d.dir.path);
  d.port = free_port();
  std::vector<std::string> argv = {"/usr/bin/microsocks", "-i", "127.0.0.1", "-p", std::to_string(d.port)};
  if (!user.empty()) argv.insert(argv.end(), {"-u", user, "-P", pass});
  return d.started(argv, err);
}

bool start_tinyproxy(Daemon& d, uint16_t allowed_port, std::string& err) {
  std::filesystem::create_directories(d.dir.path);
  d.port = free_port();
  std::ofstream(d.dir.path + "/tinyproxy.conf")
      << "Port " << d.port << "\nListen 127.0.0.1\nTimeout 30\n"
      << "LogFile \"" << d.dir.path << "/tinyproxy.log\"\nLogLevel Connect\n"
      << "MaxClients 200\nAllow 127.0.0.1\nConnectPort " << allowed_port << "\n";
  return d.started({"/usr/bin/tinyproxy", "-d", "-c", d.dir.path + "/tinyproxy.conf"}, err);
}

bool start_danted(Daemon& d, std::string& err) {
  std::filesystem::create_directories(d.dir.path);
  d.port = free_port();
  std::ofstream(d.dir.path + "/danted.conf")
      << "logoutput: " << d.dir.path << "/danted.log\ninternal: 127.0.0.1 port = " << d.port
      << "\nexternal: 127.0.0.1\nsocksmethod: none\nclientmethod: none\nuser.privileged: root\n"
      << "user.unprivileged: nobody\nclient pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: error connect "
         "disconnect\n}\nsocks pass {\n  from: 127.0.0.0/8 to: 127.0.0.0/8\n  command: connect\n  log: error connect "
         "disconnect\n}\n";
  return d.started({"/usr/sbin/danted", "-f", d.dir.path + "/danted.conf", "-N", "1"}, err);
}

// ---------------------------------------------------------------------------
// Tests

constexpr size_t kBulk = 4 << 20;  // each way

// Sends kBulk bytes of a known pattern through the relay to the echo server and
// back; checks both directions byte for byte and the record. With
// `half_close_first` the client shuts its write side as soon as it has sent
// everything and must still get all of the echo, then the end: the half-close
// went through. microsocks and tinyproxy end the whole connection when one side
// ends, so through them the client reads everything first, then shuts.
void bulk_round_trip(RelayHarness& h, EchoServer& echo, const std::string& upstream_text, bool half_close_first) {
  std::string data = pattern(kBulk, 7);
  UniqueFd c = h.dial(echo.destination());
  ASSERT_TRUE(c) << strerror(errno);
  Exchange x = exchange(c.get(), data, 30s, half_close_first, half_close_first ? SIZE_MAX : data.size());
  EXPECT_EQ(x.error, 0) << strerror(x.error);
  if (!half_close_first) {
    ::shutdown(c.get(), SHUT_WR);
    Exchange rest = receive(c.get(), 1);
    x.received += rest.received;
    x.eof = rest.eof;
  }
  EXPECT_TRUE(x.eof) << "the end of the client's data did not come back as an end of file";
  ASSERT_EQ(x.received.size(), data.size());
  EXPECT_TRUE(x.received == data) << "the bytes that came back differ from those sent";
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "ok");
  EXPECT_EQ(recs[0].bytes_up, kBulk);
  EXPECT_EQ(recs[0].bytes_down, kBulk);
  EXPECT_EQ(recs[0].meta.cgroup_id, 4242u);
  EXPECT_EQ(recs[0].upstream, upstream_text);
  EXPECT_EQ(proxy::format_address(recs[0].dst.addr), "127.0.0.1:" + std::to_string(echo.port()));
  auto st = h.relay().stats();
  EXPECT_EQ(st.accepted, 1u);
  EXPECT_EQ(st.forwarded, 1u);
  EXPECT_EQ(st.active, 0u);
}

TEST(ProxyRelay, DirectCarriesBothWaysAndTheHalfClose) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  bulk_round_trip(h, echo, "direct", true);
  EXPECT_EQ(h.upstream_sockets(), 1) << "the relay's own socket was not shown to on_upstream_socket";
  EXPECT_EQ(echo.accepted(), 1);
}

TEST(ProxyRelay, DirectWithoutSpliceToo) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  h.splice = false;
  ASSERT_TRUE(h.start("direct")) << h.error();
  bulk_round_trip(h, echo, "direct", true);
}

TEST(ProxyRelay, Socks5ThroughMicrosocks) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  RelayHarness h;
  std::string via = "socks5://127.0.0.1:" + std::to_string(ms.port);
  ASSERT_TRUE(h.start(via)) << h.error();
  bulk_round_trip(h, echo, via, false);
  // microsocks logs each CONNECT it makes ("client[N] 127.0.0.1: connected to HOST:PORT").
  std::string want = "connected to 127.0.0.1:" + std::to_string(echo.port());
  EXPECT_TRUE(has(wait_for_text(ms.log(), want), want)) << read_file(ms.log());
}

TEST(ProxyRelay, Socks5SendsTheNameWhenItIsKnown) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  {  // microsocks resolves the name it is sent: a bare root without /etc/hosts cannot
    addrinfo* res = nullptr;
    if (getaddrinfo("localhost", nullptr, nullptr, &res) != 0) GTEST_SKIP() << "\"localhost\" does not resolve here";
    freeaddrinfo(res);
  }
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  RelayHarness h;
  ASSERT_TRUE(h.start("socks5h://127.0.0.1:" + std::to_string(ms.port))) << h.error();
  UniqueFd c = h.dial(echo.destination("127.0.0.1", "localhost"));
  EXPECT_EQ(ping(c.get()), "ping");
  std::string want = "connected to localhost:" + std::to_string(echo.port());
  EXPECT_TRUE(has(wait_for_text(ms.log(), want), want)) << "microsocks was not asked for the name:\n"
                                                        << read_file(ms.log());
}

TEST(ProxyRelay, Ipv6ClientsAndDestinations) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  for (std::string via : {std::string("direct"), "socks5://127.0.0.1:" + std::to_string(ms.port)}) {
    RelayHarness h;
    ASSERT_TRUE(h.start(via, 1000ms, 100000, "::1")) << h.error();
    UniqueFd c = h.dial(echo.destination("::1"));
    ASSERT_TRUE(c) << strerror(errno);
    EXPECT_EQ(ping(c.get()), "ping") << via;
    c.reset();
    auto recs = h.records(1);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].result, "ok") << via;
    EXPECT_EQ(proxy::format_address(recs[0].dst.addr), "[::1]:" + std::to_string(echo.port()));
  }
  std::string want = "connected to ::1:" + std::to_string(echo.port());
  EXPECT_TRUE(has(wait_for_text(ms.log(), want), want)) << read_file(ms.log());
}

TEST(ProxyRelay, Socks5ThroughDante) {
  REQUIRE_BINARY("/usr/sbin/danted");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon d;
  std::string err;
  ASSERT_TRUE(start_danted(d, err)) << err;
  RelayHarness h;
  std::string via = "socks5h://127.0.0.1:" + std::to_string(d.port);
  ASSERT_TRUE(h.start(via)) << h.error();
  bulk_round_trip(h, echo, via, true);
  // Dante's own accounting, at the session's end: "tcp/connect ]: UP -> ... -> DOWN, DOWN -> ... -> UP".
  std::string log = wait_for_text(d.dir.path + "/danted.log", "tcp/connect ]");
  std::string sizes = "]: " + std::to_string(kBulk) + " -> ";
  EXPECT_TRUE(has(log, "127.0.0.1." + std::to_string(echo.port()))) << log;
  EXPECT_TRUE(has(log, "tcp/connect " + sizes)) << "dante did not count " << kBulk << " bytes each way:\n" << log;
}

TEST(ProxyRelay, HttpConnectThroughTinyproxy) {
  REQUIRE_BINARY("/usr/bin/tinyproxy");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon tp;
  std::string err;
  ASSERT_TRUE(start_tinyproxy(tp, echo.port(), err)) << err;
  RelayHarness h;
  std::string via = "http://127.0.0.1:" + std::to_string(tp.port);
  ASSERT_TRUE(h.start(via)) << h.error();
  bulk_round_trip(h, echo, via, false);
  std::string want = "CONNECT 127.0.0.1:" + std::to_string(echo.port());
  std::string log = wait_for_text(tp.dir.path + "/tinyproxy.log", want);
  EXPECT_TRUE(has(log, want)) << log;
}

TEST(ProxyRelay, TinyproxyRefusingAPortFailsTheClientClearly) {
  REQUIRE_BINARY("/usr/bin/tinyproxy");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon tp;
  std::string err;
  ASSERT_TRUE(start_tinyproxy(tp, static_cast<uint16_t>(echo.port() ^ 1), err)) << err;  // not this port
  RelayHarness h;
  ASSERT_TRUE(h.start("http://127.0.0.1:" + std::to_string(tp.port))) << h.error();
  UniqueFd c = h.dial(echo.destination());
  Exchange x = receive(c.get(), 1);
  EXPECT_EQ(x.error, ECONNRESET) << "the client was not reset: " << strerror(x.error);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_TRUE(has(recs[0].result, "refused by upstream: HTTP 403")) << recs[0].result;
  EXPECT_EQ(echo.accepted(), 0);
}

TEST(ProxyRelay, BytesTheServerSendsFirstArriveThroughEachUpstream) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  REQUIRE_BINARY("/usr/bin/tinyproxy");
  const std::string banner = "220 server speaks first\r\n";
  EchoServer echo(banner);
  ASSERT_TRUE(echo.start());
  Daemon ms, tp;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  ASSERT_TRUE(start_tinyproxy(tp, echo.port(), err)) << err;
  for (std::string via : {std::string("direct"), "socks5://127.0.0.1:" + std::to_string(ms.port),
                          "http://127.0.0.1:" + std::to_string(tp.port)}) {
    RelayHarness h;
    ASSERT_TRUE(h.start(via)) << h.error();
    UniqueFd c = h.dial(echo.destination());
    Exchange x = receive(c.get(), banner.size());
    EXPECT_EQ(x.received, banner) << via;
  }
}

TEST(ProxyRelay, Socks5AuthGoodAndWrongCredentials) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err, "alice", "s3cret:@")) << err;
  {
    RelayHarness h;
    ASSERT_TRUE(h.start("socks5://alice:s3cret%3A%40@127.0.0.1:" + std::to_string(ms.port))) << h.error();
    UniqueFd c = h.dial(echo.destination());
    EXPECT_EQ(ping(c.get(), "hello"), "hello");
    c.reset();
    EXPECT_EQ(h.records(1).at(0).result, "ok");
  }
  RelayHarness h;
  std::string via = "socks5://alice:wrong@127.0.0.1:" + std::to_string(ms.port);
  ASSERT_TRUE(h.start(via)) << h.error();
  UniqueFd c = h.dial(echo.destination());
  Exchange x = receive(c.get(), 1);
  EXPECT_EQ(x.error, ECONNRESET) << "the client was not reset";
  EXPECT_LT(x.seconds, 1.0);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "refused by upstream: authentication failed: the proxy rejected user \"alice\"");
  EXPECT_EQ(h.relay().stats().failed, 1u);
  EXPECT_EQ(echo.accepted(), 1) << "only the good-credentials connection reached the server";
}

TEST(ProxyRelay, AStoppedUpstreamFailsTheClientAtOnce) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  RelayHarness h;
  ASSERT_TRUE(h.start("socks5://127.0.0.1:" + std::to_string(ms.port))) << h.error();
  ms.child.end();  // the upstream stops
  UniqueFd c = h.dial(echo.destination());
  Exchange x = exchange(c.get(), "GET / HTTP/1.0\r\n\r\n", 5s, false);
  EXPECT_EQ(x.error, ECONNRESET) << "the client's read did not fail with a reset";
  EXPECT_LT(x.seconds, 1.0);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result,
            "upstream unreachable: connecting to 127.0.0.1:" + std::to_string(ms.port) + ": Connection refused");
}

TEST(ProxyRelay, ASilentUpstreamFailsTheClientWithinTheTimeout) {
  // A listener that never accepts: the kernel completes the TCP handshake, and
  // then nothing answers the SOCKS5 greeting.
  auto silent = proxy::listen_tcp(loopback(0), 16);
  ASSERT_TRUE(silent);
  uint16_t port = proxy::address_port(*proxy::local_address(silent->get()));
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("socks5://127.0.0.1:" + std::to_string(port), 300ms)) << h.error();
  UniqueFd c = h.dial(echo.destination());
  Exchange x = receive(c.get(), 1);
  EXPECT_EQ(x.error, ECONNRESET);
  EXPECT_GT(x.seconds, 0.25);
  EXPECT_LT(x.seconds, 1.0);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result,
            "upstream unreachable: no SOCKS5 answer from 127.0.0.1:" + std::to_string(port) + " within 300 ms");
}

TEST(ProxyRelay, AConnectionTheLookupDoesNotKnowIsResetWithoutForwarding) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  UniqueFd c = h.dial(Destination{});  // not in the table: not redirected
  EXPECT_TRUE(was_reset(c));
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "not redirected");
  auto st = h.relay().stats();
  EXPECT_EQ(st.refused, 1u);
  EXPECT_EQ(st.forwarded, 0u);
  EXPECT_EQ(h.upstream_sockets(), 0) << "a socket was made for a connection that must not be forwarded";
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(echo.accepted(), 0);
}

TEST(ProxyRelay, ADestinationThatIsTheRelayItselfIsRefused) {
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  UniqueFd c = h.dial(*proxy::make_destination("127.0.0.1", h.port()));
  EXPECT_TRUE(was_reset(c));
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "loop: the destination is the relay itself");
  EXPECT_EQ(h.relay().stats().accepted, 1u) << "the relay dialled itself";
}

TEST(ProxyRelay, AResetOnEitherSideEndsBoth) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  UniqueFd c = h.dial(echo.destination());
  ASSERT_EQ(ping(c.get()), "ping");
  proxy::close_with_reset(c);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "client reset");
  auto end = Clock::now() + 2s;
  while (echo.resets() == 0 && Clock::now() < end) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(echo.resets(), 1) << "the destination did not see the reset";
}

TEST(ProxyRelay, StoppingTheRelayResetsWhatIsOpenAndRecordsIt) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  UniqueFd c = h.dial(echo.destination());
  ASSERT_EQ(ping(c.get()), "ping");
  h.stop();
  EXPECT_TRUE(h.run_ok());
  EXPECT_EQ(receive(c.get(), 1).error, ECONNRESET);
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "relay stopped");
  EXPECT_EQ(recs[0].bytes_up, 4u);
}

// Opens n connections through the relay, all at once, each exchanging a line
// with the echo server and then held open until all have; returns how many did.
size_t concurrent(RelayHarness& h, EchoServer& echo, size_t n, Clock::duration limit) {
  WaitNote note(std::to_string(n) + " concurrent connections");
  std::vector<UniqueFd> fds;
  std::vector<std::string> got(n);
  std::vector<bool> sent(n, false);
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  for (size_t i = 0; i < n; ++i) {
    fds.push_back(h.dial(echo.destination(), true));
    if (!fds.back()) return 0;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u64 = i;
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fds.back().get(), &ev);
  }
  auto line = [](size_t i) { return "connection " + std::to_string(i) + "\n"; };
  size_t done = 0;
  auto end = Clock::now() + limit;
  epoll_event evs[256];
  while (done < n && Clock::now() < end) {
    int k = ::epoll_wait(ep.get(), evs, 256, 100);
    for (int j = 0; j < k; ++j) {
      size_t i = evs[j].data.u64;
      int fd = fds[i].get();
      if (!sent[i] && (evs[j].events & EPOLLOUT)) {
        std::string l = line(i);
        sent[i] = ::send(fd, l.data(), l.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(l.size());
      }
      char buf[64];
      ssize_t r;
      while ((r = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        got[i].append(buf, static_cast<size_t>(r));
        if (got[i] == line(i)) done++;
      }
    }
  }
  return done;  // the fds close here, all at once
}

TEST(ProxyRelay, TwoThousandConcurrentConnectionsAllSucceed) {
  constexpr size_t kConns = 2000;
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct")) << h.error();
  EXPECT_EQ(concurrent(h, echo, kConns, 60s), kConns);
  auto recs = h.records(kConns, 30s);
  ASSERT_EQ(recs.size(), kConns);
  size_t ok = 0;
  for (const auto& r : recs) ok += r.result == "ok";
  EXPECT_EQ(ok, kConns) << "first other result: " << [&] {
    for (const auto& r : recs)
      if (r.result != "ok") return r.result;
    return std::string();
  }();
  auto st = h.relay().stats();
  EXPECT_EQ(st.forwarded, kConns);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.active, 0u);
}

TEST(ProxyRelay, ConcurrentSocks5HandshakesThroughMicrosocks) {
  REQUIRE_BINARY("/usr/bin/microsocks");
  constexpr size_t kConns = 500;
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  Daemon ms;
  std::string err;
  ASSERT_TRUE(start_microsocks(ms, err)) << err;
  RelayHarness h;
  ASSERT_TRUE(h.start("socks5://127.0.0.1:" + std::to_string(ms.port), 5000ms)) << h.error();
  EXPECT_EQ(concurrent(h, echo, kConns, 60s), kConns);
  auto recs = h.records(kConns, 30s);
  size_t ok = 0;
  for (const auto& r : recs) ok += r.result == "ok";
  EXPECT_EQ(ok, kConns);
  EXPECT_EQ(echo.accepted(), static_cast<int>(kConns));
}

// The relay in a child whose fd limit is kLimit: it says so at start, and when
// the fds run out it resets the connections it cannot take, says so once, and
// does not spin.
TEST(ProxyRelay, OutOfFileDescriptorsIsReportedOnceAndDoesNotSpin) {
  constexpr rlim_t kLimit = 128;
  constexpr int kClients = 150;
  uint16_t dst_port = free_port();
  Child relay;
  ASSERT_TRUE(relay.start_fn(
      [dst_port] {
        rlimit r{kLimit, kLimit};
        if (::setrlimit(RLIMIT_NOFILE, &r) != 0) return 3;
        auto say = [](const std::string& s) { (void)!::write(1, s.data(), s.size()); };
        proxy::RelayOptions o;
        o.listen = {loopback(0)};
        o.upstream = *proxy::parse_upstream("direct");
        o.lookup = [dst_port](const sockaddr_storage&, const sockaddr_storage&) -> std::optional<Original> {
          return Original{*proxy::make_destination("127.0.0.1", dst_port), {}};
        };
        o.on_warning = [&say](const std::string& w) { say("warning: " + w + "\n"); };
        auto rl = Relay::create(std::move(o));
        if (!rl) return 4;
        say("port " + std::to_string(proxy::address_port(rl->bound().at(0))) + "\n");
        std::atomic<bool> never{false};
        (void)rl->run(never);  // until the test kills it
        return 0;
      },
      {.out = Stream::kPipe}));
  EchoServer echo;
  ASSERT_TRUE(echo.start(dst_port));
  std::string out;
  read_until(relay.pipe_fd(), out, Clock::now() + 10s,
             [](const std::string& b) { return has(b, "\n") && has(b, "port "); });
  size_t at = out.find("port ");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_TRUE(has(out, "warning: the open-file limit (128) leaves room for about 32 connections")) << out;
  uint16_t relay_port = static_cast<uint16_t>(std::stoi(out.substr(at + 5)));

  auto cpu_ticks = [&] {
    std::istringstream f(read_file("/proc/" + std::to_string(relay.pid()) + "/stat")
                             .substr(read_file("/proc/" + std::to_string(relay.pid()) + "/stat").rfind(')') + 2));
    std::string skip;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field < 14; ++field) f >> skip;
    f >> utime >> stime;
    return utime + stime;
  };
  auto before = cpu_ticks();
  std::vector<UniqueFd> clients;
  sockaddr_storage a = loopback(relay_port);
  for (int i = 0; i < kClients; ++i) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(sockaddr_in)), 0) << strerror(errno);
    clients.push_back(std::move(fd));
  }
  std::this_thread::sleep_for(1s);
  int working = 0, reset = 0;
  for (auto& c : clients) {
    std::string got = ping(c.get(), "x");
    if (got == "x")
      working++;
    else if (receive(c.get(), 1, 100ms).error == ECONNRESET || got.empty())
      reset++;
  }
  auto spent = cpu_ticks() - before;
  EXPECT_GT(working, 20) << "the relay took too few connections";
  EXPECT_GT(reset, 0) << "no connection was reset for lack of fds";
  EXPECT_EQ(working + reset, kClients);
  EXPECT_LT(spent, 50u) << "the relay used " << spent << " ticks in the overload second: it spins";
  read_until(relay.pipe_fd(), out, Clock::now() + 200ms);
  size_t reports = 0;
  for (size_t p = 0; (p = out.find("out of file descriptors", p)) != std::string::npos; ++p) reports++;
  EXPECT_EQ(reports, 1u) << out;
  EXPECT_TRUE(has(out, "new connections are reset until some close")) << out;
}

TEST(ProxyRelay, MaxConnectionsResetsTheOneTooMany) {
  EchoServer echo;
  ASSERT_TRUE(echo.start());
  RelayHarness h;
  ASSERT_TRUE(h.start("direct", 1000ms, 1)) << h.error();
  UniqueFd first = h.dial(echo.destination());
  ASSERT_EQ(ping(first.get(), "one"), "one");
  UniqueFd second = h.dial(echo.destination());
  EXPECT_TRUE(was_reset(second));
  auto recs = h.records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].result, "relay full: 1 connections");
  EXPECT_EQ(proxy::format_address(recs[0].dst.addr), "127.0.0.1:" + std::to_string(echo.port()))
      << "the record of a refused connection says where it was going";
}

}  // namespace
}  // namespace cgscope::testing
