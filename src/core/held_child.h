// A child that is forked first and held until its caller is ready (hooks attached,
// the child in its cgroup), and only then execs CMD: CMD's very first instruction
// is traced or proxied, and nothing of cgscope's own is. CommandRun uses it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace cgscope {

class HeldChild {
 public:
  static Result<HeldChild> spawn(const std::vector<std::string>& argv);
  HeldChild(HeldChild&& o) noexcept;
  HeldChild& operator=(HeldChild&&) = delete;
  ~HeldChild();

  pid_t pid() const { return pid_; }
  // Lets the child exec CMD; fails with the exec error (and reaps the child) if
  // CMD could not be run.
  Result<void> release();
  // The exit code once the child has ended (128 + signal number if killed).
  std::optional<int> try_wait();
  void signal(int sig);

 private:
  HeldChild() = default;
  pid_t pid_ = -1;
  bool reaped_ = false;
  UniqueFd go_;     // write end: one byte releases the child
  UniqueFd error_;  // read end: the child's exec errno, or EOF when exec succeeded
  std::string name_;
};

}  // namespace cgscope
