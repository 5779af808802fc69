// Socket arguments beyond the domain and type (flags.h): setsockopt/getsockopt
// levels and option names (the name's meaning depends on the level), MSG_*
// flags of send and recv, and accept4's SOCK_* flags.
#pragma once

#include <cstdint>
#include <string>

namespace cgscope::trace {

// "SOL_SOCKET", "SOL_TCP", "SOL_IP", "SOL_IPV6" (strace's and the kernel's
// spelling of the IPPROTO_* levels); unknown levels in decimal.
void format_sockopt_level(std::string& out, uint64_t level);

// The option name at `level`: "SO_REUSEADDR" at SOL_SOCKET, "TCP_NODELAY" at
// SOL_TCP, "IP_TOS", "IPV6_V6ONLY"; decimal where the level or the name is not
// known.
void format_sockopt_name(std::string& out, uint64_t level, uint64_t optname);

// send/recv flags: "MSG_DONTWAIT|MSG_NOSIGNAL"; 0 gives "0".
void format_msg_flags(std::string& out, uint64_t v);

// accept4's flags: "SOCK_CLOEXEC|SOCK_NONBLOCK" (socket(2)'s type flags alone);
// 0 gives "0".
void format_sock_flags(std::string& out, uint64_t v);

}  // namespace cgscope::trace
