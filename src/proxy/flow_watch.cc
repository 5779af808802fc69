#include "proxy/flow_watch.h"

#include <arpa/inet.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "proxy/hooks.h"

namespace cgscope::proxy {
namespace {

constexpr int kPollMs = 100;  // how soon a stop is seen
// BPF_TCP_* (the kernel's TCP states)
constexpr uint16_t kTcpEstablished = 1, kTcpSynSent = 2, kTcpCloseWait = 8;

uint64_t monotonic_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(t.tv_sec) * 1000000000ULL + uint64_t(t.tv_nsec);
}

std::string result_of(const cgs_proxy_flow& f) {
  bool established = f.watch & CGS_PROXY_WATCH_ESTABLISHED;
  if (f.err > 0)
    return std::string(established ? "reset: " : "destination unreachable: ") + std::strerror(f.err);
  if (established) return "ok";
  return f.old_state == kTcpSynSent ? "closed while connecting" : "not established";
}

}  // namespace

AccessRecord open_record(const cgs_proxy_flow& f, uint64_t mono_now_ns, std::chrono::system_clock::time_point wall_now) {
  cgs_proxy_flow at_stop = f;
  at_stop.end_ns = mono_now_ns;
  at_stop.err = 0;
  AccessRecord r = flow_record(at_stop, mono_now_ns, wall_now);
  r.bytes_known = false;
  r.bytes_up = r.bytes_down = 0;
  // CLOSE_WAIT: the destination closed its side, the program has not.
  if (f.old_state == kTcpEstablished || f.old_state == kTcpCloseWait) r.result = "open at stop";
  else if (f.old_state == kTcpSynSent) r.result = "connecting at stop";
  else r.result = "closing at stop";
  return r;
}

AccessRecord flow_record(const cgs_proxy_flow& f, uint64_t mono_now_ns, std::chrono::system_clock::time_point wall_now) {
  using namespace std::chrono;
  AccessRecord r;
  r.meta.cgroup_id = f.who.cgroup_id;
  r.meta.pid = f.who.pid;
  r.meta.comm.assign(f.who.comm, strnlen(f.who.comm, sizeof(f.who.comm)));
  r.dst.addr = address_from_abi(f.dst, ntohs(f.dst_port));
  r.dst.len = address_length(r.dst.addr);
  r.upstream = "direct";
  r.bytes_up = f.bytes_acked;
  r.bytes_down = f.bytes_received;
  uint64_t end = f.end_ns >= f.start_ns ? f.end_ns : f.start_ns;
  r.seconds = double(end - f.start_ns) / 1e9;
  uint64_t ago = mono_now_ns >= f.start_ns ? mono_now_ns - f.start_ns : 0;
  r.started = wall_now - duration_cast<system_clock::duration>(nanoseconds(ago));
  r.result = result_of(f);
  return r;
}

FlowWatch::FlowWatch(FlowWatch&&) noexcept = default;
FlowWatch& FlowWatch::operator=(FlowWatch&&) noexcept = default;
FlowWatch::~FlowWatch() = default;

Result<FlowWatch> FlowWatch::create(int ring_fd, OnClose on_close) {
  FlowWatch w;
  w.state_ = std::make_unique<State>();
  w.state_->on_close = std::move(on_close);
  auto sample = [st = w.state_.get()](std::span<const uint8_t> rec) {
    if (rec.size() < sizeof(cgs_proxy_flow)) return;  // not ours: ignored
    cgs_proxy_flow f;
    std::memcpy(&f, rec.data(), sizeof f);
    st->on_close(flow_record(f, monotonic_ns(), std::chrono::system_clock::now()));
    st->logged.fetch_add(1, std::memory_order_relaxed);
  };
  auto ring = RingReader::open(ring_fd, sample);
  if (!ring) return fail_with("opening the ring of closed connections (proxy_flows)", ring.error());
  w.ring_.emplace(std::move(*ring));
  return w;
}

Result<void> FlowWatch::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    if (auto n = ring_->poll(kPollMs); !n) return fail_with("reading closed connections", n.error());
  }
  ring_->drain();
  return {};
}

Result<uint64_t> FlowWatch::log_open(int open_fd) {
  uint64_t now = monotonic_ns();
  auto wall = std::chrono::system_clock::now();
  uint64_t n = 0, key = 0;
  const uint64_t* prev = nullptr;
  // The map is not changing (the hooks are detached), so a walk by next key
  // sees each entry once.
  while (bpf_map_get_next_key(open_fd, prev, &key) == 0) {
    cgs_proxy_flow f;
    prev = &key;
    if (bpf_map_lookup_elem(open_fd, &key, &f) != 0) continue;
    state_->on_close(open_record(f, now, wall));
    state_->logged.fetch_add(1, std::memory_order_relaxed);
    n++;
  }
  if (errno != ENOENT) return fail_errno("reading the connections open at stop (proxy_open)", errno);
  return n;
}

}  // namespace cgscope::proxy
