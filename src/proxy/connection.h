// One proxied connection inside the relay's loop: the client socket, the
// upstream socket, the handshake while it runs, then a pump each way. It moves
// connecting -> handshaking -> forwarding -> closed, and writes its access
// record exactly once, when it closes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/unique_fd.h"
#include "proxy/access_log.h"
#include "proxy/destination.h"
#include "proxy/handshake.h"
#include "proxy/pipe_pool.h"
#include "proxy/pump.h"
#include "proxy/relay.h"
#include "proxy/relay_timers.h"

namespace cgscope::proxy {

struct Counters {
  std::atomic<uint64_t> accepted{0}, forwarded{0}, refused{0}, failed{0}, active{0};
};

// What every connection shares: the loop's epoll, the options, the pipes.
struct LoopContext {
  int epoll_fd = -1;
  const RelayOptions* opt = nullptr;
  std::string upstream_text;  // describe(opt->upstream), for the records
  // 1 MiB pipes (pipe-max-size's default, the most an unprivileged relay may
  // ask for): in alternating 1 GB loopback runs, 64 KiB pipes were about 10%
  // slower than 256 KiB or 1 MiB ones. The pages exist only while bytes wait
  // in a pipe and a pipe is lent only while they do, so idle connections cost
  // none of it; at most 64 idle pipes are kept.
  PipePool pipes{64, 1 << 20};
  Counters counters;
  // A socket or pipe could not be made for lack of fds (rate-limited warning).
  std::function<void(int err)> fd_shortage;
  // A connection whose pump spent its budget: the loop runs it again soon.
  std::function<void(uint64_t id)> resume_later;
  // Calls the connection's on_deadline() at `when` (if it is still armed then).
  std::function<void(uint64_t id, Clock::time_point when)> schedule;
  // The loop's clock, read once per wakeup: what "now" means to every
  // connection handled in that turn (activity, deadlines).
  Clock::time_point now{};
};

// epoll's data for a connection's socket: the id and which side.
enum class Side : uint64_t { client = 0, upstream = 1 };
inline uint64_t epoll_tag(uint64_t id, Side s) { return id << 1 | static_cast<uint64_t>(s); }

class Connection {
 public:
  Connection(uint64_t id, UniqueFd client, Original orig, Clock::time_point accepted,
             std::chrono::system_clock::time_point wall);

  // Registers the client and dials the upstream (or the destination, for
  // direct). It may close at once (a socket that cannot be made, a refused
  // connect): closed() tells.
  void start(LoopContext& ctx);
  void on_event(LoopContext& ctx, Side side, uint32_t events);
  // Runs the pumps again (after their budget ran out).
  void resume(LoopContext& ctx);
  // Its armed deadline came: connect_timeout before forwarding, idle_timeout
  // after. It fails, closes, or arms the next one.
  void on_deadline(LoopContext& ctx);
  // The deadline that counts (the last one armed); older queue entries for
  // this connection are stale.
  Clock::time_point armed() const { return armed_; }
  // The relay stops: resets both sides.
  void stop(LoopContext& ctx);

  bool closed() const { return stage_ == Stage::closed; }
  uint64_t id() const { return id_; }

 private:
  enum class Stage { connecting, handshaking, forwarding, closed };

  void on_connected(LoopContext& ctx);
  void write_handshake(LoopContext& ctx);
  void read_handshake(LoopContext& ctx);
  void start_forwarding(LoopContext& ctx, std::string leftover);
  void forward(LoopContext& ctx, bool up, bool down);
  void watch_reads(LoopContext& ctx);
  void set_reading(LoopContext& ctx, Side side, bool on);
  void arm(LoopContext& ctx, Clock::time_point when);
  void fail(LoopContext& ctx, std::string result);
  void finish(LoopContext& ctx, std::string result, bool reset);
  std::string pump_failure(const Pump& p, bool up) const;
  std::chrono::milliseconds connect_limit(const RelayOptions& opt) const;
  std::string target_text(const RelayOptions& opt) const;
  std::string unreachable(const RelayOptions& opt) const;

  uint64_t id_;
  UniqueFd client_, upstream_;
  Original orig_;
  Clock::time_point accepted_;
  Clock::time_point last_active_{};  // a byte moved either way (forwarding)
  Clock::time_point armed_{};        // the deadline that counts; {}: none
  std::chrono::system_clock::time_point wall_;
  Stage stage_ = Stage::connecting;
  std::unique_ptr<Handshake> handshake_;
  std::string handshake_out_;          // handshake bytes not yet written
  bool readable_[2] = {false, false};  // by Side: EPOLLIN seen before forwarding
  bool reading_[2] = {true, true};     // by Side: EPOLLIN in the socket's epoll mask
  bool upstream_more_ = false;         // the handshake's last read was full: more may wait
  Pump up_, down_;                     // client -> upstream, upstream -> client
};

}  // namespace cgscope::proxy
