// The lb commands as functions: `cgscope lb apply|status|reset` call these, and so
// do the integration tests (with their own pin dir and cgroup). Each prints to
// `out`/`err` and returns the process exit code.
#pragma once

#include <ostream>
#include <string>

namespace cgscope::lb {

struct ApplyOptions {
  std::string file;
  std::string cgroup;   // "" = the cgroup2 root (the whole machine)
  std::string pin_dir;  // "" = kDefaultPinDir
  bool dry_run = false; // validate and plan, write nothing
};

int run_apply(const ApplyOptions& o, std::ostream& out, std::ostream& err);
int run_status(const std::string& pin_dir, bool json, std::ostream& out, std::ostream& err);
int run_reset(const std::string& pin_dir, std::ostream& out, std::ostream& err);

}  // namespace cgscope::lb
