// The processes of `-p` (with --follow, and their descendants) as the trace
// knows them, so that a trace of -p ends, as strace's does, when none is left.
// The kernel's fork and exit records keep the set (they come whatever -e
// selects); a look at /proc now and then covers records lost to a full ring.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <unordered_set>
#include <vector>

#include "cgscope/abi/trace.h"
#include "core/result.h"

namespace cgscope::trace {

// -p PID of a process that does not run is a mistake to refuse before tracing,
// not a trace that waits for nothing.
Result<void> require_running(const std::vector<pid_t>& pids);

class PidWatch {
 public:
  PidWatch(const std::vector<pid_t>& roots, bool follow) : live_(roots.begin(), roots.end()), follow_(follow) {}
  // A descendant found in /proc when the trace started (--follow).
  void add(pid_t pid) { live_.insert(pid); }
  // A lifecycle record: with --follow a fork adds the child, an exit removes.
  void on_lifecycle(const cgs_record& h);
  // Every watched process has exited. Rechecks /proc at most every 250 ms.
  bool all_gone();

 private:
  std::unordered_set<pid_t> live_;
  bool follow_;
  std::chrono::steady_clock::time_point next_check_{};
};

}  // namespace cgscope::trace
