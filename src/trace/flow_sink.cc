#include "trace/flow_sink.h"

#include <netinet/in.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <bpf/bpf.h>
#include <fmt/format.h>

#include "trace/tcp_states.h"

namespace cgscope::trace {
namespace {

constexpr size_t kFlushBytes = 64 << 10;
// A destination no namespace had: read them again, at most this often (a
// container may have appeared since).
constexpr auto kRefreshEvery = std::chrono::seconds(2);
// A destination whose server was not found: at most this often, since a
// refresh also searches /proc/*/fd for the servers' sockets (while the ring waits).
constexpr auto kServerRefreshEvery = std::chrono::seconds(10);
// A UDP pair with no datagram for this long is complete (conntrack's timeout
// for UDP with no reply); pairs are looked at this often.
constexpr uint64_t kUdpIdleNs = 30'000'000'000ull;
constexpr uint64_t kUdpIdleCheckNs = 5'000'000'000ull;

uint64_t wall_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

double duration_ms(const Flow& f) { return f.end_ns > f.start_ns ? double(f.end_ns - f.start_ns) / 1e6 : 0.0; }

// TCP: the kernel's name of the last state. UDP: how the pair ended.
std::string state_name(const Flow& f) {
  if (f.proto == FlowProto::udp) return f.open ? "OPEN" : f.state == kUdpIdle ? "IDLE" : "CLOSE";
  std::string s(tcp_state_name(f.state));
  return s.empty() ? std::to_string(f.state) : s;
}

std::string state_text(const Flow& f) {
  std::string s = state_name(f);
  if (!f.established) s += f.proto == FlowProto::udp ? " (no reply)" : " (never established)";
  if (f.open && f.proto == FlowProto::tcp) s += " (open)";
  return s;
}

std::string_view proto_name(const Flow& f) { return f.proto == FlowProto::udp ? "udp" : "tcp"; }

std::string_view kind_name(PlaceKind k) {
  switch (k) {
    case PlaceKind::container: return "container";
    case PlaceKind::host: return "host";
    case PlaceKind::outside: return "outside";
    case PlaceKind::unknown: break;
  }
  return "unknown";
}

// "docker a1b2c3d4e5f6 curl[42] 198.18.7.1:40312", parts unknown left out.
void append_end_text(std::string& out, const FlowEnd& e) {
  if (e.place.kind == PlaceKind::container)
    out += (e.place.runtime.empty() ? std::string("container") : e.place.runtime) + " " +
           e.place.container_id.substr(0, 12);
  else out += kind_name(e.place.kind);
  if (e.pid) {
    out += ' ';
    append_json_escaped(out, e.comm);
    fmt::format_to(std::back_inserter(out), "[{}]", *e.pid);
  }
  if (!e.addr.family) return;
  if (e.addr.family == AF_INET6) fmt::format_to(std::back_inserter(out), " [{}]:{}", rtnl::format_ip(e.addr), e.port);
  else fmt::format_to(std::back_inserter(out), " {}:{}", rtnl::format_ip(e.addr), e.port);
}

void append_json_string_or_null(std::string& out, bool known, std::string_view s) {
  if (!known) {
    out += "null";
    return;
  }
  out += '"';
  append_json_escaped(out, s);
  out += '"';
}

void append_end_json(std::string& out, const FlowEnd& e) {
  bool container = e.place.kind == PlaceKind::container;
  out += "{\"kind\":\"";
  out += kind_name(e.place.kind);
  out += "\",\"container_id\":";
  append_json_string_or_null(out, container, e.place.container_id);
  out += ",\"container_runtime\":";
  append_json_string_or_null(out, container, e.place.runtime);
  out += ",\"pid\":";
  out += e.pid ? std::to_string(*e.pid) : "null";
  out += ",\"comm\":";
  append_json_string_or_null(out, e.pid.has_value(), e.comm);
  out += ",\"addr\":";
  append_json_string_or_null(out, e.addr.family != 0, e.addr.family ? rtnl::format_ip(e.addr) : "");
  out += ",\"port\":";
  out += e.addr.family && e.port ? std::to_string(e.port) : "null";  // 0: not bound yet (a refused connect)
  out += '}';
}

}  // namespace

void append_flow_text(std::string& out, const Flow& f) {
  time_t secs = static_cast<time_t>(f.end_ns / 1000000000);
  struct tm tm;
  localtime_r(&secs, &tm);
  fmt::format_to(std::back_inserter(out), "{:02}:{:02}:{:02}.{:03} ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (f.end_ns / 1000000) % 1000);
  append_end_text(out, f.src);
  out += " -> ";
  append_end_text(out, f.dst);
  if (f.proto == FlowProto::udp)
    fmt::format_to(std::back_inserter(out), ": udp, {} B sent in {} datagram{}, {} B received in {} datagram{}",
                   f.bytes_sent, f.dgrams_sent, f.dgrams_sent == 1 ? "" : "s", f.bytes_received, f.dgrams_received,
                   f.dgrams_received == 1 ? "" : "s");
  else
    fmt::format_to(std::back_inserter(out), ": {} B sent, {} B received", f.bytes_sent, f.bytes_received);
  fmt::format_to(std::back_inserter(out), ", {:.1f} ms, {}{}\n", duration_ms(f), state_text(f),
                 f.seen_from_start ? "" : " (open before the trace)");
}

void append_flow_json(std::string& out, const Flow& f) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"start_ts\":{},\"end_ts\":{},\"proto\":\"{}\",\"src\":", f.start_ns, f.end_ns,
                 proto_name(f));
  append_end_json(out, f.src);
  out += ",\"dst\":";
  append_end_json(out, f.dst);
  bool udp = f.proto == FlowProto::udp;
  fmt::format_to(it,
                 ",\"bytes_sent\":{},\"bytes_received\":{},\"datagrams_sent\":{},\"datagrams_received\":{},"
                 "\"duration_ms\":{:.3f},\"state\":\"{}\",\"established\":{},\"open\":{},\"seen_from_start\":{}}}\n",
                 f.bytes_sent, f.bytes_received, udp ? std::to_string(f.dgrams_sent) : "null",
                 udp ? std::to_string(f.dgrams_received) : "null", duration_ms(f), state_name(f), f.established,
                 f.open, f.seen_from_start);
}

FlowSink::FlowSink(OutputFile out, FlowOutput form, ContainerRegistry& registry, std::string cgroup2_mount)
    : out_(std::move(out)),
      form_(form),
      registry_(registry),
      book_(std::move(cgroup2_mount)),
      tracker_([this](const IpAddress& a) { return place_of(a); },
               [this](uint64_t cookie, const IpAddress& remote, uint16_t port, bool take) {
                 return udp_counts(cookie, remote, port, take);
               },
               [this](const IpAddress& a, uint16_t port, FlowProto proto) { return server_of(a, port, proto); }) {
  timespec mono;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  mono_to_wall_ = wall_now_ns() - (uint64_t(mono.tv_sec) * 1000000000ull + uint64_t(mono.tv_nsec));
}

std::optional<UdpCounts> FlowSink::udp_counts(uint64_t cookie, const IpAddress& remote, uint16_t port, bool take) {
  if (udp_pairs_fd_ < 0) return std::nullopt;
  cgs_udp_key key{};
  key.cookie = cookie;
  key.port = port;
  key.family = remote.family;
  std::memcpy(key.addr, remote.bytes.data(), remote.family == AF_INET ? 4 : 16);
  cgs_udp_count c{};
  int rc = take ? bpf_map_lookup_and_delete_elem(udp_pairs_fd_, &key, &c) : bpf_map_lookup_elem(udp_pairs_fd_, &key, &c);
  if (rc != 0) return std::nullopt;
  UdpCounts out{c.bytes_sent, c.bytes_received, c.dgrams_sent, c.dgrams_received,
                c.last_ns ? c.last_ns + mono_to_wall_ : 0, std::nullopt, {}};
  if (c.tgid) {
    out.pid = c.tgid;
    out.comm.assign(c.comm, strnlen(c.comm, sizeof(c.comm)));
  }
  return out;
}

std::optional<Place> FlowSink::place_of(const IpAddress& addr) {
  auto p = book_.owner(addr);
  if (!p && book_.stale(kRefreshEvery)) {
    book_.refresh(registry_.list());
    p = book_.owner(addr);
  }
  return p;
}

std::optional<ServerProcess> FlowSink::server_of(const IpAddress& addr, uint16_t port, FlowProto proto) {
  bool udp = proto == FlowProto::udp;
  auto s = book_.server(addr, port, udp);
  if (!s && book_.stale(kServerRefreshEvery)) {  // a server started since
    book_.refresh(registry_.list());
    s = book_.server(addr, port, udp);
  }
  if (!s) return std::nullopt;
  return ServerProcess{s->pid, s->comm};
}

void FlowSink::start() { book_.refresh(registry_.list()); }

void FlowSink::write(const Flow& f) {
  (f.proto == FlowProto::udp ? udp_flows_ : connections_)++;
  switch (form_) {
    case FlowOutput::text: append_flow_text(buf_, f); break;
    case FlowOutput::json: append_flow_json(buf_, f); break;
    case FlowOutput::dot:
    case FlowOutput::mermaid: graph_.push_back(f); break;
  }
  if (buf_.size() >= kFlushBytes) flush();
}

void FlowSink::on_event(const EventView& ev, bool selected) {
  if (!selected) return;
  done_.clear();
  if (auto t = tcp_transition_of(ev)) tracker_.on_transition(*t, done_);
  else if (auto p = udp_peer_of(ev)) tracker_.on_udp_peer(*p);
  else if (ev.rec->hdr->nr == CGS_EV_UDP_CLOSE) tracker_.on_udp_close(ev.rec->hdr->args[0], ev.wall_ns, done_);
  for (const Flow& f : done_) write(f);
}

bool FlowSink::flush() {
  if (uint64_t now = wall_now_ns(); udp_pairs_fd_ >= 0 && now >= next_idle_check_) {
    next_idle_check_ = now + kUdpIdleCheckNs;
    done_.clear();
    tracker_.take_idle(now, kUdpIdleNs, done_);
    for (const Flow& f : done_) write(f);
  }
  if (!broken_ && !buf_.empty() && !out_.write(buf_)) broken_ = true;
  return !broken_;
}

Result<void> FlowSink::finish() {
  std::vector<Flow> open = tracker_.take_open(wall_now_ns());
  for (const Flow& f : open) write(f);
  if (form_ == FlowOutput::dot || form_ == FlowOutput::mermaid) {
    FlowGraph g = build_flow_graph(graph_);
    buf_ += form_ == FlowOutput::dot ? render_dot(g) : render_mermaid(g);
  }
  flush();
  std::fprintf(stderr, "cgscope: %llu TCP connections, %llu UDP flows (%zu still open)\n",
               static_cast<unsigned long long>(connections_), static_cast<unsigned long long>(udp_flows_), open.size());
  if (out_.error() && out_.error() != EPIPE)
    return fail(std::string("writing the flow table: ") + std::strerror(out_.error()), out_.error());
  return {};
}

}  // namespace cgscope::trace
