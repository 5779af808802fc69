// The relay's insides, shared by relay.cc (the loop, timers, set-up) and
// relay_accept.cc (taking connections from the listeners). Not for other users.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/connection.h"
#include "proxy/relay.h"
#include "proxy/relay_timers.h"

namespace cgscope::proxy {

inline constexpr uint64_t kListenerTag = 1ull << 63;  // epoll data of a listener: the tag | its index

// A connection accepted and not yet set up (a burst waits here, not in the
// kernel's accept queue, which drops connects once full).
struct Accepted {
  UniqueFd fd;
  sockaddr_storage peer{};
  size_t listener = 0;
};

struct Relay::Impl {
  RelayOptions opt;
  UniqueFd epoll;
  std::vector<UniqueFd> listeners;
  std::vector<sockaddr_storage> bound;
  std::vector<bool> wildcard;        // per listener: bound to any address (then getsockname tells the local end)
  std::vector<uint64_t> ready_turn;  // per listener: the loop turn it was last readable in
  uint64_t turn = 0;
  LoopContext ctx;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns;
  std::deque<Accepted> waiting;
  DeadlineQueue deadlines;
  std::vector<uint64_t> resume;
  uint64_t next_id = 1;
  UniqueFd reserve;  // an fd given up to accept-and-reset one connection when out of fds
  bool paused = false;
  Clock::time_point resume_accept{};
  Clock::time_point last_warning{};
  uint64_t shed_since_warning = 0;
  uint64_t fd_limit = 0;
  uint64_t fd_room = 0;  // connections the fd limit holds, two fds each

  void warn(const std::string& msg) {
    if (opt.on_warning)
      opt.on_warning(msg);
    else
      std::fprintf(stderr, "cgscope proxy: %s\n", msg.c_str());
  }
  // relay_accept.cc
  void fd_shortage(int err);
  void on_listener(size_t index);
  void admit_waiting();
  std::optional<Accepted> accept_next(size_t index, bool* more);
  bool shed_for_fds(size_t index, int err);
  void drain(size_t index);
  bool room_to_wait() const;
  void admit(Accepted a);
  Result<sockaddr_storage> local_of(size_t index, int fd) const;
  void record_unforwarded(const std::optional<Original>& orig, std::chrono::system_clock::time_point wall,
                          std::string result);
  void shed(UniqueFd fd, const sockaddr_storage& peer, const sockaddr_storage& local, std::string why,
            bool failed = true);
  void take(UniqueFd fd, const sockaddr_storage& peer, const sockaddr_storage& local);
  // relay.cc
  bool is_relay_address(const sockaddr_storage& a) const;
  void set_listening(bool on);
  void dispatch(const epoll_event& ev);
  void run_timers();
  int wait_ms() const;
  void stop_all();
};

}  // namespace cgscope::proxy
