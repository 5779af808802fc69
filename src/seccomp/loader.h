// A Profile (seccomp/profile_json.h) as a libseccomp filter, owned, and loaded
// into the calling process: from then on the kernel checks each of its calls,
// and those of everything it execs and starts.
#pragma once

#include <memory>

#include "core/result.h"
#include "seccomp/profile_json.h"

namespace cgscope::seccomp {

class Filter {
 public:
  // Builds the filter: the default action (also for calls of architectures the
  // profile does not list, when it denies), the architectures, one rule per name.
  // Errors name the field: an unknown architecture or syscall name.
  static Result<Filter> build(const Profile& profile);

  // Sets no_new_privs (which lets an unprivileged process load a filter, and
  // keeps setuid programs from gaining what the filter would not stop) and loads
  // the filter into every thread. Nothing of libseccomp runs after the load but
  // freeing its copy of the program: the next call the caller makes is the
  // first one the filter checks.
  Result<void> load();

 private:
  struct Release {
    void operator()(void* ctx) const;
  };
  explicit Filter(void* ctx) : ctx_(ctx) {}
  std::unique_ptr<void, Release> ctx_;  // scmp_filter_ctx
};

}  // namespace cgscope::seccomp
