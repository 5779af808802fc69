// One run of `cgscope trace`: from the user's request to the final summary line.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cgscope/abi/trace.h"

namespace cgscope::trace {

enum class OutputFormat { automatic, table, json };
enum class FlowOutput { text, json, dot, mermaid };  // --flows -o (flow_sink.h)
// What --duration, --max-events or a closed output do to `-- CMD` (trace_stop.h).
enum class OnStop { detach, kill };
// --summary: the per-syscall table at the end, alone (strace -c) or after the events (-C).
enum class SummaryMode { off, only, with_events };

struct TraceRequest {
  std::vector<std::string> events;   // -e items, as given
  std::vector<pid_t> pids;           // -p
  bool follow = false;               // --follow: children of -p too
  std::optional<std::string> comm;   // --comm
  std::optional<uint32_t> uid;       // -u
  std::vector<std::string> cgroups;  // -c: paths in the cgroup v2 tree (or absolute)
  std::optional<std::string> container;  // --container ID|all|host
  bool only_failed = false;          // -x
  uint32_t capture_bytes = 0;        // --capture-buffers N
  bool capture_envp = false;         // --envp
  std::optional<uint32_t> string_limit;  // -s N: bytes kept of strings, argv elements, buffers
  uint32_t argv_max = CGS_ARGV_MAX_ELEMS;  // --argv-max N
  OutputFormat output = OutputFormat::automatic;
  std::string output_file;           // "" = stdout
  std::string seccomp_profile;       // --seccomp-profile FILE: "" = none
  double duration = 0;               // seconds, 0 = until stopped
  uint64_t max_events = 0;           // 0 = no limit
  OnStop on_stop = OnStop::detach;   // --on-stop
  uint32_t buffer_bytes = 16u << 20; // ring buffer size
  bool verbose = false;
  std::vector<std::string> command;  // after --
  bool flows = false;                // --flows: connections instead of events (with -e: events to output_file)
  FlowOutput flow_output = FlowOutput::text;
  SummaryMode summary = SummaryMode::off;  // --summary, -C
  bool syscall_times = false;              // -T: each syscall event's duration
};

// Runs the trace; returns the process exit code (CMD's when a command was given).
// Errors are printed to stderr as one line each.
int run_trace(const TraceRequest& req);

}  // namespace cgscope::trace
