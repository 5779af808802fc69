// The names of TCP states (the kernel's tcp_states.h) and of who made a
// transition (CGS_TCP_CTX_*), for the tcp_state event and the flow table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cgscope::trace {

// "ESTABLISHED", "SYN_SENT" ... "NEW_SYN_RECV"; "" for a number that is none.
std::string_view tcp_state_name(uint64_t state);

// The name, or the number for an unknown state.
void format_tcp_state(std::string& out, uint64_t state);

// "task" or "softirq" (CGS_TCP_CTX_*), or the number.
void format_tcp_context(std::string& out, uint64_t context);

// "send" or "recv" (CGS_UDP_DIR_*), or the number: udp_peer's dir.
void format_udp_dir(std::string& out, uint64_t dir);

}  // namespace cgscope::trace
