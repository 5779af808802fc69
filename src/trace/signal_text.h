// The `signals` events (signal_generate, signal_deliver; abi/trace.h
// CGS_EV_SIGNAL_*), shown as strace shows a signal:
//   --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=42, si_uid=0, si_status=0} ---
// and in JSON as fields: "signal", "code", "errno", the siginfo fields the code
// carries ("pid", "uid", "status", "addr", "timerid", "overrun"), and for
// generate "sender_pid" and "result", for deliver "handler".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cgscope/abi/trace.h"

namespace cgscope::trace {

inline bool is_signal_event(uint32_t nr) { return nr == CGS_EV_SIGNAL_GENERATE || nr == CGS_EV_SIGNAL_DELIVER; }

// si_code's name for signal `sig` (CLD_EXITED, SEGV_MAPERR, SI_USER...), "" when unknown.
std::string_view si_code_name(int sig, int code);
// signal_generate's result (CGS_SIG_RESULT_*): "delivered", "ignored"..., "" when unknown.
std::string_view signal_result_name(int64_t result);

// The ARGS of a table row (no " = RET" follows).
void append_signal_text(std::string& out, const cgs_record& h);
// The members of "args":{...} (without the braces).
void append_signal_json_args(std::string& out, const cgs_record& h);

}  // namespace cgscope::trace
