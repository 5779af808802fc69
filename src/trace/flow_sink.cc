#include "trace/flow_sink.h"

#include <netinet/in.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "trace/tcp_states.h"

namespace cgscope::trace {
namespace {

constexpr size_t kFlushBytes = 64 << 10;
// A destination no namespace had: read them again, at most this often (a
// container may have appeared since).
constexpr auto kRefreshEvery = std::chrono::seconds(2);

uint64_t wall_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

double duration_ms(const Flow& f) { return f.end_ns > f.start_ns ? double(f.end_ns - f.start_ns) / 1e6 : 0.0; }

std::string state_text(const Flow& f) {
  std::string s(tcp_state_name(f.state));
  if (s.empty()) s = std::to_string(f.state);
  if (!f.established) s += " (never established)";
  if (f.open) s += " (open)";
  return s;
}

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
  fmt::format_to(std::back_inserter(out), ": {} B sent, {} B received, {:.1f} ms, {}{}\n", f.bytes_sent,
                 f.bytes_received, duration_ms(f), state_text(f), f.seen_from_start ? "" : " (open before the trace)");
}

void append_flow_json(std::string& out, const Flow& f) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"start_ts\":{},\"end_ts\":{},\"src\":", f.start_ns, f.end_ns);
  append_end_json(out, f.src);
  out += ",\"dst\":";
  append_end_json(out, f.dst);
  std::string state(tcp_state_name(f.state));
  fmt::format_to(it,
                 ",\"bytes_sent\":{},\"bytes_received\":{},\"duration_ms\":{:.3f},\"state\":\"{}\","
                 "\"established\":{},\"open\":{},\"seen_from_start\":{}}}\n",
                 f.bytes_sent, f.bytes_received, duration_ms(f), state.empty() ? std::to_string(f.state) : state,
                 f.established, f.open, f.seen_from_start);
}

FlowSink::FlowSink(OutputFile out, FlowOutput form, ContainerRegistry& registry, std::string cgroup2_mount)
    : out_(std::move(out)),
      form_(form),
      registry_(registry),
      book_(std::move(cgroup2_mount)),
      tracker_([this](const IpAddress& a) { return place_of(a); }) {}

std::optional<Place> FlowSink::place_of(const IpAddress& addr) {
  auto p = book_.owner(addr);
  if (!p && book_.stale(kRefreshEvery)) {
    book_.refresh(registry_.list());
    p = book_.owner(addr);
  }
  return p;
}

void FlowSink::start() { book_.refresh(registry_.list()); }

void FlowSink::write(const Flow& f) {
  connections_++;
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
  auto t = tcp_transition_of(ev);
  if (!t) return;
  done_.clear();
  tracker_.on_transition(*t, done_);
  for (const Flow& f : done_) write(f);
}

bool FlowSink::flush() {
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
  std::fprintf(stderr, "cgscope: %llu connections (%zu still open)\n", static_cast<unsigned long long>(connections_),
               open.size());
  if (out_.error() && out_.error() != EPIPE)
    return fail(std::string("writing the flow table: ") + std::strerror(out_.error()), out_.error());
  return {};
}

}  // namespace cgscope::trace
