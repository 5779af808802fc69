// `cgscope lb status`: what the kernel maps hold, read back and shown as text or JSON.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "lb/maps.h"
#include "lb/planner.h"

namespace cgscope::lb {

struct Status {
  std::string pin_dir;
  MapState state;
  std::map<uint32_t, cgs_lb_counters> counters;
  std::vector<uint64_t> stats;  // by enum cgs_lb_stat
  std::vector<LinkInfo> links;
  bool netns_filter = false;
  uint64_t map_memory = 0;
};

// Reads everything; fails with code ENOENT when nothing is applied under `dir`.
Result<Status> read_status(const std::string& dir);

nlohmann::json status_json(const Status& s);
std::string status_text(const Status& s);

}  // namespace cgscope::lb
