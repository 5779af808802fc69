// Addresses as the flow tracker compares them: shared by its TCP part
// (flows.cc) and its UDP part (flows_udp.cc).
#pragma once

#include <cstdint>
#include <string>

#include "core/rtnetlink.h"
#include "trace/format.h"

namespace cgscope::trace {

// An IPv4-mapped IPv6 address as the IPv4 address; any other unchanged.
rtnl::IpAddress flow_unmapped(const rtnl::IpAddress& a);
// A SOCKADDR section (sockaddr_in or sockaddr_in6) of a tcp_state or udp_peer record.
bool flow_read_sockaddr(const VarSection& var, rtnl::IpAddress& addr, uint16_t& port);
bool flow_is_unspecified(const rtnl::IpAddress& a);  // no family, or all zero
bool flow_is_loopback(const rtnl::IpAddress& a);
// The parts of a tcp_state or udp_peer record that every socket record has;
// false when its address sections are missing or malformed.
struct SockEvent;
bool read_sock_event(const EventView& ev, SockEvent& s);
// The key that joins the two ends of one connection: an end's (local, remote)
// is the other's (remote, local). `netns` counts only for loopback addresses.
std::string flow_tuple_key(bool udp, uint64_t netns, const rtnl::IpAddress& la, uint16_t lp,
                           const rtnl::IpAddress& ra, uint16_t rp);

}  // namespace cgscope::trace
