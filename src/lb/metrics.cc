#include "lb/metrics.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "lb/maps.h"

namespace cgscope::lb {

namespace {

// A label value as the text format wants it: backslash, quote and newline escaped.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void service_metrics(const std::string& pin_dir, std::string& out) {
  auto maps = PinnedMaps::open(pin_dir);
  if (!maps) return;
  auto names = maps->read_names();  // not the whole state: a scrape reads two maps
  auto counters = maps->read_counters();
  if (!names || !counters) return;
  // Outcomes that partition the connects to a service address: sockops counts
  // what became of a balanced one; `pending` is the rest (in progress, or a
  // service that keeps no original destination, whose outcome is not tracked).
  out += "# HELP cgscope_lb_connects_total Connects to a service address by outcome: established, failed (refused "
         "by the endpoint, timed out or given up), refused (no endpoint), pending (in progress, or not tracked).\n"
         "# TYPE cgscope_lb_connects_total counter\n";
  for (const auto& [id, name] : *names) {
    auto c = counters->find(id);
    const cgs_lb_counters n = c == counters->end() ? cgs_lb_counters{} : c->second;
    const uint64_t known = n.established + n.failed;
    const std::pair<const char*, uint64_t> rows[] = {{"established", n.established},
                                                     {"failed", n.failed},
                                                     {"refused", n.refused},
                                                     {"pending", n.balanced > known ? n.balanced - known : 0}};
    for (const auto& [outcome, count] : rows)
      out += fmt::format("cgscope_lb_connects_total{{service=\"{}\",outcome=\"{}\"}} {}\n", label(name), outcome,
                         count);
  }
}

}  // namespace

std::string metrics_text(const std::string& pin_dir, const ApplyStats& applies,
                         const std::vector<std::pair<HostPort, bool>>& health) {
  std::string out;
  service_metrics(pin_dir, out);
  if (!health.empty()) {
    out += "# HELP cgscope_lb_endpoint_up 1 while the endpoint passes its health checks (in rotation).\n"
           "# TYPE cgscope_lb_endpoint_up gauge\n";
    for (const auto& [hp, up] : health)
      out += fmt::format("cgscope_lb_endpoint_up{{endpoint=\"{}\"}} {}\n", label(format_host_port(hp)), up ? 1 : 0);
  }
  out += fmt::format(
      "# HELP cgscope_lb_applies_total Applies of the file by this daemon, by result.\n"
      "# TYPE cgscope_lb_applies_total counter\n"
      "cgscope_lb_applies_total{{result=\"ok\"}} {}\ncgscope_lb_applies_total{{result=\"error\"}} {}\n"
      "# HELP cgscope_lb_apply_duration_seconds Time the applies took.\n"
      "# TYPE cgscope_lb_apply_duration_seconds summary\n"
      "cgscope_lb_apply_duration_seconds_sum {:.6f}\ncgscope_lb_apply_duration_seconds_count {}\n"
      "# HELP cgscope_lb_last_apply_ok 1 if the last apply succeeded.\n# TYPE cgscope_lb_last_apply_ok gauge\n"
      "cgscope_lb_last_apply_ok {}\n",
      applies.ok, applies.failed, applies.seconds_sum, applies.ok + applies.failed, applies.last_ok ? 1 : 0);
  return out;
}

Result<MetricsServer> MetricsServer::listen(const std::string& addr) {
  auto hp = parse_host_port(addr);
  if (!hp) return fail(fmt::format("--metrics {}: {}", addr, hp.error().message), EINVAL);
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(*hp, &ss);
  MetricsServer m;
  m.fd_.reset(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!m.fd_) return fail_errno("--metrics: socket", errno);
  int one = 1;
  setsockopt(m.fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(m.fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(m.fd_.get(), 16) != 0)
    return fail_errno(fmt::format("--metrics: listening on {}", addr), errno);
  return m;
}

void MetricsServer::serve_one(const std::function<std::string()>& body) const {
  UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!c) return;
  timeval tv{1, 0};  // a client that sends nothing does not hold the daemon up
  setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req;
  char buf[2048];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192) {
    ssize_t n = ::read(c.get(), buf, sizeof buf);
    if (n <= 0) return;
    req.append(buf, static_cast<size_t>(n));
  }
  const bool ok = req.rfind("GET /metrics ", 0) == 0 || req.rfind("GET / ", 0) == 0;
  std::string text = ok ? body() : "only GET /metrics is served here\n";
  std::string resp = fmt::format("HTTP/1.1 {}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: "
                                 "{}\r\nConnection: close\r\n\r\n{}",
                                 ok ? "200 OK" : "404 Not Found", text.size(), text);
  for (size_t at = 0; at < resp.size();) {
    ssize_t n = ::write(c.get(), resp.data() + at, resp.size() - at);
    if (n <= 0) return;
    at += static_cast<size_t>(n);
  }
}

}  // namespace cgscope::lb
