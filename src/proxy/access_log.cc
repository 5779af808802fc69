#include "proxy/access_log.h"

#include <time.h>

#include <cstdio>

namespace cgscope::proxy {
namespace {

std::string clock_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto since = t.time_since_epoch();
  time_t secs = static_cast<time_t>(duration_cast<seconds>(since).count());
  long ms = static_cast<long>(duration_cast<milliseconds>(since).count() % 1000);
  tm local{};
  localtime_r(&secs, &local);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03ld", local.tm_hour, local.tm_min, local.tm_sec, ms);
  return buf;
}

// A program name comes from the traced process: make it safe for one line.
std::string safe(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out;
}

std::string dns_type(uint16_t t) {
  switch (t) {
    case 1: return "A";
    case 28: return "AAAA";
    case 5: return "CNAME";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 33: return "SRV";
    case 65: return "HTTPS";
    default: return "TYPE" + std::to_string(t);
  }
}

int64_t epoch_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string format_access_text(const AccessRecord& r) {
  std::string out = clock_time(r.started) + " ";
  out += r.meta.comm.empty() ? "?" : safe(r.meta.comm);
  if (r.meta.pid) out += "[" + std::to_string(r.meta.pid) + "]";
  if (r.meta.cgroup_id) out += " cgroup " + std::to_string(r.meta.cgroup_id);
  out += " -> " + (r.dst.len ? safe(format_destination(r.dst)) : std::string("(unknown)"));
  if (!r.upstream.empty()) out += " via " + r.upstream;
  out += ": " + r.result;
  char tail[96];
  if (r.bytes_known)
    std::snprintf(tail, sizeof tail, ", %llu B up, %llu B down, %.3f s", static_cast<unsigned long long>(r.bytes_up),
                  static_cast<unsigned long long>(r.bytes_down), r.seconds);
  else
    std::snprintf(tail, sizeof tail, ", bytes not known, %.3f s", r.seconds);
  return out + tail;
}

nlohmann::json format_access_json(const AccessRecord& r) {
  using nlohmann::json;
  json j;
  j["ts"] = epoch_ns(r.started);
  j["cgroup_id"] = r.meta.cgroup_id ? json(r.meta.cgroup_id) : json(nullptr);
  j["pid"] = r.meta.pid ? json(r.meta.pid) : json(nullptr);
  // Invalid UTF-8 would make dump() throw: a comm is bytes, so it is made ASCII.
  j["comm"] = r.meta.comm.empty() ? json(nullptr) : json(safe(r.meta.comm));
  j["dst"] = r.dst.len ? json(format_address(r.dst.addr)) : json(nullptr);
  j["host"] = r.dst.host.empty() ? json(nullptr) : json(safe(r.dst.host));
  j["upstream"] = r.upstream.empty() ? json(nullptr) : json(safe(r.upstream));
  j["bytes_up"] = r.bytes_known ? json(r.bytes_up) : json(nullptr);
  j["bytes_down"] = r.bytes_known ? json(r.bytes_down) : json(nullptr);
  j["seconds"] = r.seconds;
  j["result"] = safe(r.result);
  return j;
}

std::string format_dns_text(const DnsRecord& r, const std::string& upstream, std::chrono::system_clock::time_point when) {
  std::string out = clock_time(when) + " dns " + (r.name.empty() ? std::string("(unreadable)") : safe(r.name));
  out += " " + dns_type(r.type) + " from " + format_address(r.client) + " -> " + format_address(r.server);
  out += " via " + upstream + ": " + (r.error.empty() ? "ok" : safe(r.error));
  char tail[64];
  std::snprintf(tail, sizeof tail, ", %zu addresses, %.3f s", r.answers, r.took.count() / 1e6);
  return out + tail;
}

nlohmann::json format_dns_json(const DnsRecord& r, const std::string& upstream,
                               std::chrono::system_clock::time_point when) {
  using nlohmann::json;
  json j;
  j["ts"] = epoch_ns(when);
  j["dns"] = r.name.empty() ? json(nullptr) : json(safe(r.name));
  j["type"] = dns_type(r.type);
  j["client"] = format_address(r.client);
  j["server"] = r.server.ss_family ? json(format_address(r.server)) : json(nullptr);
  j["upstream"] = safe(upstream);
  j["answers"] = r.answers;
  j["seconds"] = r.took.count() / 1e6;
  j["result"] = r.error.empty() ? std::string("ok") : safe(r.error);
  return j;
}

}  // namespace cgscope::proxy
