// The lb commands as functions: `cgscope lb apply|status|reset` call these, and so
// do the integration tests (with their own pin dir and cgroup). Each prints to
// `out`/`err` and returns the process exit code.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "lb/config_file.h"
#include "lb/pin_dir.h"

namespace cgscope::lb {

struct ApplyOptions {
  std::string file;
  std::string cgroup;   // "" = the cgroup2 root (the whole machine)
  std::string pin_dir;  // "" = kDefaultPinDir
  bool dry_run = false; // validate and plan, write nothing
  uint64_t max_file_bytes = kDefaultMaxConfigBytes;            // the config file's size bound
  std::chrono::milliseconds lock_timeout = kDefaultLockTimeout;  // waiting for another writer
  // Called on the validated config before it is planned: `lb run` takes the
  // endpoints its health checks found down out of rotation here.
  std::function<void(Config&)> adjust;
};

int run_apply(const ApplyOptions& o, std::ostream& out, std::ostream& err);
int run_status(const std::string& pin_dir, bool json, std::ostream& out, std::ostream& err,
               std::chrono::milliseconds lock_timeout = kDefaultLockTimeout);
int run_reset(const std::string& pin_dir, std::ostream& out, std::ostream& err,
              std::chrono::milliseconds lock_timeout = kDefaultLockTimeout);

}  // namespace cgscope::lb
