// What the relay's integration tests share: loopback helpers, an echo server
// in a thread (the destination), and the relay in a thread with a table for its
// lookup (what the BPF map is in cgscope); the client's side is relay_client.h.
// Every wait is bounded.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "owned.h"
#include "proxy/relay.h"
#include "proxy/socket_util.h"
#include "relay_client.h"

namespace cgscope::testing::relay_harness {

using proxy::AccessRecord;
using proxy::Destination;
using proxy::Original;
using proxy::Relay;
using proxy::Upstream;

// ---------------------------------------------------------------------------
// Loopback helpers

inline sockaddr_storage loopback(uint16_t port) { return proxy::make_destination("127.0.0.1", port)->addr; }

// A port nothing listens on now (bound, read, closed: free for a daemon to take).
inline uint16_t free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage a = loopback(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(sockaddr_in)) != 0) return 0;
  return proxy::address_port(*proxy::local_address(fd.get()));
}

// Waits until something accepts connections on 127.0.0.1:port.
inline bool wait_listening(uint16_t port, Clock::duration limit = 10s) {
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

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Waits until `path` holds `needle`; returns the file as it was last read.
inline std::string wait_for_text(const std::string& path, const std::string& needle, Clock::duration limit = 5s) {
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

inline std::string pattern(size_t n, unsigned seed) {
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

  bool splice = true;                         // RelayOptions::splice, for start()
  std::chrono::milliseconds idle_timeout{0};  // RelayOptions::idle_timeout, for start()
  uint32_t own_pid = 0;                       // RelayOptions::own_pid, for start()
  std::atomic<int> loops{0};                  // RelayOptions::on_loop calls

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
    o.idle_timeout = idle_timeout;
    o.own_pid = own_pid;
    o.on_loop = [this] { loops++; };
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

// Opens n connections through the relay, all at once, each exchanging a line
// with the echo server and then held open until all have; returns how many did.
inline size_t concurrent(RelayHarness& h, EchoServer& echo, size_t n, Clock::duration limit) {
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

}  // namespace cgscope::testing::relay_harness
