#include "trace/tcp_states.h"

#include <array>

#include "cgscope/abi/trace.h"

namespace cgscope::trace {
namespace {

// Indexed by the kernel's TCP_* numbers (include/net/tcp_states.h), which are
// part of its ABI: sock_diag and the inet_sock_set_state tracepoint show them.
constexpr std::array<std::string_view, 14> kStates = {
    "",          "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",    "TIME_WAIT",
    "CLOSE",     "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV", "BOUND_INACTIVE",
};

}  // namespace

std::string_view tcp_state_name(uint64_t state) { return state < kStates.size() ? kStates[state] : ""; }

void format_tcp_state(std::string& out, uint64_t state) {
  std::string_view name = tcp_state_name(state);
  out += name.empty() ? std::to_string(state) : std::string(name);
}

void format_tcp_context(std::string& out, uint64_t context) {
  if (context == CGS_TCP_CTX_TASK) out += "task";
  else if (context == CGS_TCP_CTX_SOFTIRQ) out += "softirq";
  else out += std::to_string(context);
}

void format_udp_dir(std::string& out, uint64_t dir) {
  if (dir == CGS_UDP_DIR_SEND) out += "send";
  else if (dir == CGS_UDP_DIR_RECV) out += "recv";
  else out += std::to_string(dir);
}

}  // namespace cgscope::trace
