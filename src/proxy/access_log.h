// The access log: one record per connection the relay took, and its two forms,
// a line for people and a JSON object for machines.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "proxy/destination.h"
#include "proxy/dns_forwarder.h"

namespace cgscope::proxy {

struct AccessRecord {
  ConnMeta meta;
  Destination dst;                                  // empty (len 0) when the connection was not redirected
  std::string upstream;                             // describe(Upstream): the password never appears
  uint64_t bytes_up = 0;                            // client -> destination, payload only (no handshake)
  uint64_t bytes_down = 0;                          // destination -> client
  bool bytes_known = true;                          // false: both counts unknown (null, "bytes not known")
  double seconds = 0;                               // from accept to close
  std::chrono::system_clock::time_point started{};  // when it was accepted
  // "ok"; "refused by upstream: ..."; "upstream unreachable: ...";
  // "destination unreachable: ..." (direct); "upstream error: ...";
  // "not redirected"; "loop: ..."; "relay full: ..."; "client reset";
  // "upstream reset"; "relay stopped"; ...
  std::string result;
};

// One line, for example:
//   12:00:01.123 curl[4242] cgroup 9924 -> example.com:443 (93.184.216.34:443)
//   via socks5://127.0.0.1:1080: ok, 517 B up, 4096 B down, 0.153 s
// (on one line). The time is local; unknown parts are left out ("?" for an
// unknown program).
std::string format_access_text(const AccessRecord& r);

// {"ts":<ns since the epoch>,"cgroup_id":..,"pid":..,"comm":..,"dst":"93.184.216.34:443",
//  "host":"example.com","upstream":..,"bytes_up":..,"bytes_down":..,"seconds":..,"result":"ok"}
// Unknown fields (zero, empty; the byte counts when not bytes_known) are null.
nlohmann::json format_access_json(const AccessRecord& r);

// One DNS query the forwarder handled, for example:
//   12:00:01.123 dns example.com A from 10.0.0.5:40000 -> 10.0.0.2:53 via socks5://127.0.0.1:1080:
//   ok, 2 addresses, 0.012 s
std::string format_dns_text(const DnsRecord& r, const std::string& upstream,
                            std::chrono::system_clock::time_point when);
// {"ts":..,"dns":"example.com","type":"A","client":..,"server":..,"upstream":..,
//  "answers":2,"seconds":..,"result":"ok"}
nlohmann::json format_dns_json(const DnsRecord& r, const std::string& upstream,
                               std::chrono::system_clock::time_point when);

}  // namespace cgscope::proxy
