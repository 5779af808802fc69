// The few parts of a DNS message (RFC 1035) the forwarder reads: the question of
// a query, for the log, and the A/AAAA answers of a reply, so that a connection
// to an address the lookup returned can be sent to the upstream by name. Pure
// functions over bytes from the network: every length and pointer is checked,
// compression loops end, nothing reads past the end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cgscope::proxy {

struct DnsQuestion {
  uint16_t id = 0;
  std::string name;  // "example.com" (no trailing dot; "." for the root)
  uint16_t type = 0;  // 1 A, 28 AAAA, ...
};

// The first question of a message; nullopt when the header or the name is bad.
std::optional<DnsQuestion> parse_dns_question(std::string_view msg);

struct DnsAddress {
  std::string ip;  // "93.184.216.34", "2606:2800::1"
  uint32_t ttl = 0;
};

struct DnsAnswers {
  std::string name;  // the question's name: what the program asked for
  std::vector<DnsAddress> addresses;
};

// Letters, digits, '-', '_' and '.' only, at most 253 bytes: a name the relay
// may hand to an upstream as the destination.
bool plain_host_name(std::string_view name);

// The A and AAAA records of a reply (any owner name: a CNAME chain's end counts
// for the name asked); nullopt when the message is not a well-formed reply.
std::optional<DnsAnswers> parse_dns_answers(std::string_view msg);

// The largest UDP reply the asker takes: its EDNS0 OPT record's size (RFC 6891),
// else 512 (RFC 1035).
size_t dns_udp_limit(std::string_view query);

// A reply cut for UDP: the header with TC set and only the question, which tells
// the resolver to ask again over TCP (RFC 1035 4.2.1); "" when `reply` is malformed.
std::string dns_truncated(std::string_view reply);

}  // namespace cgscope::proxy
