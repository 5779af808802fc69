// The relay: takes connections a cgroup's connect() hook sent to it, learns
// where each was going (the lookup callback: the BPF record in cgscope, a table
// in the tests), and forwards it through the upstream (SOCKS5, HTTP CONNECT, or
// itself for direct). One thread, one epoll loop, non-blocking sockets; the
// upstream handshakes are state machines in the same loop; bytes move with
// splice(2). It knows nothing of BPF.
//
// Safety, by construction:
//   - never an open proxy: a connection the lookup does not know is reset
//     without anything being dialled;
//   - an upstream that is down or silent fails the client within
//     connect_timeout, with a reset, so the program's read fails at once;
//   - every socket the relay makes is shown to on_upstream_socket before it
//     connects, so the caller can exempt it from its hooks (no loops); a
//     destination equal to a relay address is refused.
//
//   auto relay = Relay::create({.listen = {loopback_any_port}, .upstream = *up, .lookup = ...});
//   std::atomic<bool> stop{false};
//   std::thread t([&] { (void)relay->run(stop); });
//   ... stop = true; t.join();
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "proxy/access_log.h"
#include "proxy/destination.h"
#include "proxy/upstream.h"

namespace cgscope::proxy {

// Called in the loop for each accepted connection with its peer and local
// address. nullopt: not redirected from the cgroup; the relay resets it without
// forwarding. It must not block: it runs in the event loop.
using OriginalLookup =
    std::function<std::optional<Original>(const sockaddr_storage& peer, const sockaddr_storage& local)>;

struct RelayOptions {
  std::vector<sockaddr_storage> listen;  // addresses to listen on (port 0: any free port)
  Upstream upstream;                     // resolved (parse_upstream), or direct
  OriginalLookup lookup;
  std::function<void(const AccessRecord&)> on_close;  // once per connection taken, in the loop
  // Each socket the relay creates, before it connects (to exempt it from the hooks).
  std::function<void(int fd)> on_upstream_socket;
  // Problems that are not one connection's (fd shortage, a limit it could not
  // raise); one sentence each, rate-limited. Default: stderr.
  std::function<void(const std::string&)> on_warning;
  // Upstream connect + handshake; with direct, the connect to the destination.
  // The program's own connect already succeeded (to the relay), so a dead
  // destination or a silent upstream would leave it waiting on TCP's own SYN
  // retries (two minutes); past this the client is reset and the record says
  // "timeout: ...". 0: no limit.
  std::chrono::milliseconds connect_timeout{10000};
  // With an upstream proxy: its own TCP connect must complete within this
  // (and within connect_timeout), so that a dead upstream fails the program
  // within a second; the handshake then has the rest of connect_timeout, as
  // the upstream's reply waits for its own connect to the destination.
  // Unused with direct (the destination may be far). 0: no separate limit.
  std::chrono::milliseconds upstream_connect_timeout{1000};
  // A forwarding connection that moved no byte either way for this long is
  // closed (both ends see an end of file; the record says "idle timeout:
  // ..."), so that connections whose peer vanished without a word do not hold
  // two fds for ever. 0 (the default): never, as a direct connection would be.
  std::chrono::milliseconds idle_timeout{0};
  // Forward bulk flows with splice(2) through pipes (no copy into user space;
  // small reads are copied either way, see pump.h); false: recv/send through a
  // 64 KiB buffer. On loopback on our 2-core VM the two moved 1 GB equally fast
  // within the noise (the second TCP connection, not the copy, is what a relay
  // costs there); the switch lets a benchmark compare them where the upstream
  // is a real network away.
  bool splice = true;
  size_t max_connections = 100000;
  // cgscope's pid as the hooks record it (0: not known). A connection recorded
  // with it is one of the relay's own upstream connects sent back to it (its
  // socket was not exempted): refused as a loop, and on_loop told.
  uint32_t own_pid = 0;
  std::function<void()> on_loop;
};

class Relay {
 public:
  // Binds and listens on every address; raises RLIMIT_NOFILE to its hard limit
  // and warns (on_warning) when it cannot, or when the limit leaves room for
  // fewer than 1,000 connections (two fds each).
  static Result<Relay> create(RelayOptions opt);

  Relay(Relay&&) noexcept;
  Relay& operator=(Relay&&) noexcept;
  ~Relay();  // closes the listeners and every connection (no records then)

  // The listen addresses as bound (the ports chosen).
  std::vector<sockaddr_storage> bound() const;

  // The event loop, on the calling thread, until `stop` is set (seen within
  // 100 ms). Before it returns it resets every open connection and writes its
  // record ("relay stopped"). It may be called again after.
  Result<void> run(const std::atomic<bool>& stop);

  struct Stats {
    uint64_t accepted = 0;   // connections taken from the listeners
    uint64_t forwarded = 0;  // reached the destination (handshake done)
    uint64_t refused = 0;    // not redirected, or a loop: nothing dialled
    uint64_t failed = 0;     // upstream down, refused or silent; relay full or out of fds
    uint64_t active = 0;     // open now
  };
  // Safe to call from any thread.
  Stats stats() const;

 private:
  struct Impl;
  explicit Relay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgscope::proxy
