// Prometheus metrics of `lb run --metrics ADDR` (run.h): per-service connects
// from lb_counters, endpoint health from the checks, and the daemon's applies.
// The server is one listening socket served from the daemon's loop, one
// request at a time (a scraper asks every few seconds; a request that does not
// arrive within a second is dropped).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"
#include "lb/addr.h"

namespace cgscope::lb {

struct ApplyStats {
  uint64_t ok = 0, failed = 0;
  double seconds_sum = 0;  // over all applies
  bool last_ok = false;
};

// The exposition text (format 0.0.4) for the state pinned in `pin_dir`.
std::string metrics_text(const std::string& pin_dir, const ApplyStats& applies,
                         const std::vector<std::pair<HostPort, bool>>& health);

class MetricsServer {
 public:
  // Listens on ADDR:PORT ("127.0.0.1:9101", "[::]:9101").
  static Result<MetricsServer> listen(const std::string& addr);
  int fd() const { return fd_.get(); }
  // Accepts one connection and answers GET /metrics with `body()`.
  void serve_one(const std::function<std::string()>& body) const;

 private:
  UniqueFd fd_;
};

}  // namespace cgscope::lb
