// Why a trace ended, and what then happens to `-- CMD`. As with strace, a trace
// that stops before CMD ends (--duration, --max-events, its output closed)
// detaches by default: the hooks go, CMD goes on untraced, and cgscope waits for
// it and exits with its status. `--on-stop kill` ends CMD with the trace instead.
// Either way one line on stderr says which, so nothing happens without a word.
#pragma once

#include <string>

#include "core/command_run.h"
#include "trace/session.h"

namespace cgscope::trace {

enum class StopReason {
  command_done,   // CMD and all it started exited
  pids_gone,      // every -p process (and with --follow its descendants) exited
  signal,         // Ctrl-C, SIGTERM, SIGHUP (without CMD: with CMD they go to it)
  duration,       // --duration
  max_events,     // --max-events
  output_closed,  // the reader of the output went away (| head)
  output_failed,  // the output cannot take more (a full disk)
  error,          // the ring buffer could not be read
};

// "--duration 1 s is over", for the line that says what happens next; "" when
// there is nothing to say (CMD ended, a signal the user sent).
std::string describe_stop(StopReason why, const TraceRequest& req);

// After the summary: detaches (the caller has destroyed the hooks) and waits, or
// kills, as req.on_stop says, when the trace stopped before CMD ended. Returns
// CMD's exit status.
int end_command(CommandRun& cmd, StopReason why, const TraceRequest& req);

}  // namespace cgscope::trace
