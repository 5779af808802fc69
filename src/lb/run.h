// `cgscope lb run FILE`: apply FILE, then keep the maps following it until
// stopped. The file is watched through its directory (inotify), so a file
// replaced by rename(2) (the way docs/lb.md asks), a Kubernetes ConfigMap volume
// (whose files are symlinks through a `..data` link that is swapped) and one
// written in place are all seen; after each change has settled, the file is
// applied as `lb apply` would, with its lock, checks and transaction. A file
// that fails (bad YAML, a writer still at it) is reported and the maps keep the
// last state applied: a daemon never takes services away because of a bad edit.
// With health checks (health.h), an endpoint found down is applied with weight
// 0 until it is found up again; each change of health is one apply.
// Every `resync` it also re-applies unchanged, which writes nothing unless
// something else changed the maps (another apply, a hand edit), and then puts
// them back. On SIGINT/SIGTERM it exits 0 and leaves the state in place:
// balancing goes on, as after `lb apply`; `lb reset` removes it.
//
// With `metrics`, GET /metrics on that address answers in Prometheus' text
// format (metrics.h).
#pragma once

#include <chrono>
#include <ostream>

#include "lb/control.h"
#include "lb/health.h"

namespace cgscope::lb {

struct RunOptions {
  ApplyOptions apply;  // dry_run is not used
  // How long the file must be left alone before it is read: a writer's
  // several writes, or a rename after a write, are one change.
  std::chrono::milliseconds settle{200};
  std::chrono::milliseconds resync{std::chrono::seconds(60)};
  HealthOptions health;  // interval 0: no health checks
  std::string metrics;   // ADDR:PORT for Prometheus metrics (metrics.h); "" none
};

// Runs until a stop signal; the exit code (0 when stopped, 1 when the file's
// directory cannot be watched or the metrics address not listened on).
int run_follow(const RunOptions& o, std::ostream& out, std::ostream& err);

}  // namespace cgscope::lb
