// The kernel's routing through rtnetlink (NETLINK_ROUTE): policy rules and
// routes added, deleted and dumped, each request acknowledged, and a refusal
// turned into an Error that carries the kernel's own sentence (extended ack,
// "Nexthop has invalid gateway") and its errno.
//
// Two layers: pure message building and parsing (no I/O; unit-tested and fuzzed,
// since a reply is outside input), and RtnlSocket, which sends a request and
// reads its answer. Only the attributes cgscope needs are built or read.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace cgscope::rtnl {

// An IPv4 or IPv6 address in network order (IPv4: the first 4 bytes).
struct IpAddress {
  uint8_t family = 0;  // AF_INET, AF_INET6; 0: none
  std::array<uint8_t, 16> bytes{};
  bool operator==(const IpAddress&) const = default;
};

// "198.18.0.1", "2001:db8::1"; nullopt when the text is not a numeric address.
std::optional<IpAddress> parse_ip(std::string_view text);
std::string format_ip(const IpAddress& a);
// 4 or 16 (0 for no family).
size_t address_size(uint8_t family);

// A policy rule (`ip rule`): "fwmark M/MASK lookup TABLE" at a priority.
struct Rule {
  uint8_t family = 0;
  uint32_t priority = 0;
  uint32_t fwmark = 0;
  uint32_t fwmask = 0;  // 0 with fwmark 0: no mark match
  uint32_t table = 0;
  uint8_t protocol = 0;  // who made it (RTPROT_*, or a tag of our own)
  uint8_t action = 0;    // FR_ACT_TO_TBL for a lookup
};

// A unicast route of one table: DST/LEN [via GATEWAY] [dev OIF].
struct Route {
  uint8_t family = 0;
  uint32_t table = 0;
  uint8_t dst_len = 0;
  IpAddress dst;  // family 0 with dst_len 0: the default route
  std::optional<IpAddress> gateway;
  uint32_t oif = 0;  // 0: any device
  uint32_t metric = 0;  // RTA_PRIORITY; 0: the kernel's default (IPv6: 1024)
  uint8_t protocol = 0;
  uint8_t type = 0;  // RTN_UNICAST, RTN_UNREACHABLE, ...
};

// ---- pure: requests ----

// RTM_NEWRULE (create, exclusive) or RTM_DELRULE, asking for an ack.
std::vector<uint8_t> rule_request(uint16_t type, uint32_t seq, const Rule& r);
// RTM_NEWROUTE (create, exclusive) or RTM_DELROUTE, asking for an ack.
std::vector<uint8_t> route_request(uint16_t type, uint32_t seq, const Route& r);
// A dump of every rule (RTM_GETRULE) or route (RTM_GETROUTE) of `family`
// (AF_UNSPEC: all families).
std::vector<uint8_t> dump_request(uint16_t type, uint8_t family, uint32_t seq);

// ---- pure: replies ----

// One message of a reply.
struct Message {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  std::span<const uint8_t> payload;  // after the nlmsghdr, within the buffer
};

enum class ReplyState { more, done };  // done: the ack or NLMSG_DONE of `seq` was read

// Walks the messages of one datagram, calling `on_message` for each data message
// of `seq` (messages of other sequence numbers are skipped). A negative ack or a
// failed dump fails with the kernel's errno and its extended-ack text where it
// sent one; a malformed datagram fails with EBADMSG.
Result<ReplyState> read_reply(std::span<const uint8_t> datagram, uint32_t seq,
                              const std::function<void(const Message&)>& on_message);

// The rule or route in an RTM_NEWRULE / RTM_NEWROUTE message; nullopt when it is
// another type or malformed.
std::optional<Rule> parse_rule(const Message& m);
std::optional<Route> parse_route(const Message& m);

// ---- the socket ----

class RtnlSocket {
 public:
  // A NETLINK_ROUTE socket with extended acks on.
  static Result<RtnlSocket> open();

  // RTM_NEWRULE/RTM_DELRULE, RTM_NEWROUTE/RTM_DELROUTE, waiting for the ack.
  Result<void> change_rule(uint16_t type, const Rule& r);
  Result<void> change_route(uint16_t type, const Route& r);
  // Every rule / route of the IPv4 and IPv6 families.
  Result<std::vector<Rule>> rules();
  Result<std::vector<Route>> routes();

 private:
  explicit RtnlSocket(UniqueFd fd) : fd_(std::move(fd)) {}
  Result<void> exchange(const std::vector<uint8_t>& request, uint32_t seq,
                        const std::function<void(const Message&)>& on_message);
  // A dump of every family, each message that `parse` takes.
  template <class T>
  Result<std::vector<T>> dump(uint16_t type, std::optional<T> (*parse)(const Message&), const char* what);
  UniqueFd fd_;
  uint32_t seq_ = 1;
};

}  // namespace cgscope::rtnl
