// --no-relay: the connections the kernel watched (bpf/lib/proxy_watch.bpf.h),
// read from the proxy_flows ring as each closes and written to the access log
// with the same record the relay writes, so both modes log alike.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "cgscope/abi/proxy.h"
#include "core/result.h"
#include "core/ring_reader.h"
#include "proxy/access_log.h"

namespace cgscope::proxy {

// One closed connection as an access record. The kernel's times are
// CLOCK_MONOTONIC: `mono_now_ns` and `wall_now` (read together) place them on
// the wall clock. Result: "ok"; "reset: ..." (an error after it was
// established); "destination unreachable: ..." (it never connected);
// "closed while connecting" (the program gave up first).
AccessRecord flow_record(const cgs_proxy_flow& f, uint64_t mono_now_ns, std::chrono::system_clock::time_point wall_now);
// One connection still open at a stop (an entry of proxy_open): its duration
// so far and no byte counts (the kernel gives them at close). Result: "open at
// stop"; "closing at stop" (a FIN sent, not yet answered); "connecting at stop".
AccessRecord open_record(const cgs_proxy_flow& f, uint64_t mono_now_ns, std::chrono::system_clock::time_point wall_now);

class FlowWatch {
 public:
  using OnClose = std::function<void(const AccessRecord&)>;
  static Result<FlowWatch> create(int ring_fd, OnClose on_close);
  FlowWatch(FlowWatch&&) noexcept;
  FlowWatch& operator=(FlowWatch&&) noexcept;
  ~FlowWatch();

  // Until `stop`, then what is left in the ring: the last connections of a
  // run are logged before it ends.
  Result<void> run(const std::atomic<bool>& stop);
  // After run, with the hooks detached (so that nothing changes the map while
  // it is read): logs each connection of proxy_open (`open_fd`) as open at
  // stop. Returns how many.
  Result<uint64_t> log_open(int open_fd);
  uint64_t logged() const { return state_->logged; }  // closed and open at stop

 private:
  struct State {
    OnClose on_close;
    std::atomic<uint64_t> logged{0};
  };
  FlowWatch() = default;
  std::unique_ptr<State> state_;  // where the ring's callback writes: stays put when moved
  std::optional<RingReader> ring_;
};

}  // namespace cgscope::proxy
