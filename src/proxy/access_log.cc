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
  std::snprintf(tail, sizeof tail, ", %llu B up, %llu B down, %.3f s", static_cast<unsigned long long>(r.bytes_up),
                static_cast<unsigned long long>(r.bytes_down), r.seconds);
  return out + tail;
}

nlohmann::json format_access_json(const AccessRecord& r) {
  using nlohmann::json;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(r.started.time_since_epoch()).count();
  json j;
  j["ts"] = ns;
  j["cgroup_id"] = r.meta.cgroup_id ? json(r.meta.cgroup_id) : json(nullptr);
  j["pid"] = r.meta.pid ? json(r.meta.pid) : json(nullptr);
  // Invalid UTF-8 would make dump() throw: a comm is bytes, so it is made ASCII.
  j["comm"] = r.meta.comm.empty() ? json(nullptr) : json(safe(r.meta.comm));
  j["dst"] = r.dst.len ? json(format_address(r.dst.addr)) : json(nullptr);
  j["host"] = r.dst.host.empty() ? json(nullptr) : json(safe(r.dst.host));
  j["upstream"] = r.upstream.empty() ? json(nullptr) : json(safe(r.upstream));
  j["bytes_up"] = r.bytes_up;
  j["bytes_down"] = r.bytes_down;
  j["seconds"] = r.seconds;
  j["result"] = safe(r.result);
  return j;
}

}  // namespace cgscope::proxy
