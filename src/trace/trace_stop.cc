#include "trace/trace_stop.h"

#include <cstdio>

#include <fmt/format.h>

namespace cgscope::trace {

std::string describe_stop(StopReason why, const TraceRequest& req) {
  switch (why) {
    case StopReason::duration:
      return fmt::format("--duration {} s is over", req.duration);
    case StopReason::max_events:
      return fmt::format("--max-events {} reached", req.max_events);
    case StopReason::output_closed:
      return "the reader of the output went away";
    case StopReason::output_failed:
      return "the output cannot be written";
    case StopReason::pids_gone:
      return req.follow ? "every traced process and its descendants have exited" : "every traced process has exited";
    case StopReason::error:
      return "the trace failed";
    case StopReason::command_done:
    case StopReason::signal:
      break;
  }
  return "";
}

int end_command(CommandRun& cmd, StopReason why, const TraceRequest& req) {
  // CMD ended by itself, or was passed the user's signal and has ended since.
  if (why == StopReason::command_done || why == StopReason::signal) return cmd.finish();
  std::string name = req.command.empty() ? "the command" : req.command[0];
  if (req.on_stop == OnStop::kill) {
    std::fprintf(stderr, "cgscope: %s: killing %s (pid %d) and what it started (--on-stop kill)\n",
                 describe_stop(why, req).c_str(), name.c_str(), cmd.pid());
    return cmd.finish();
  }
  std::fprintf(stderr,
               "cgscope: %s: tracing stopped, %s (pid %d) goes on untraced; waiting for it to exit "
               "(Ctrl-C passes the signal on; --on-stop kill ends it instead)\n",
               describe_stop(why, req).c_str(), name.c_str(), cmd.pid());
  std::fflush(stderr);
  return cmd.wait();
}

}  // namespace cgscope::trace
