// The `-- CMD` of `cgscope trace` and `cgscope proxy run`: CMD in a fresh cgroup
// of its own, held until the caller's hooks are in place, signals passed on, done
// when CMD and every process it started are gone, and the cgroup removed after.
//
//   auto run = CommandRun::make_cgroup(mount);   // the cgroup: its id goes to the hooks
//   run->spawn(argv);                            // CMD forked and held (errors are CMD's: exit 127)
//   ... load and attach ...
//   run->start();                                // into the cgroup, exec
//   while (!run->done()) { ... on a stop signal: run->forward_signal(sig); }
//   int status = run->finish();                  // CMD's exit status (or run->wait())
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/cgroup2.h"
#include "core/dir_lock.h"
#include "core/held_child.h"
#include "core/result.h"

namespace cgscope {

class CommandRun {
 public:
  // Makes <mount>/cgscope-run-<cgscope's pid> and holds a lock on it. Removes
  // first the cgscope-run-* cgroups whose lock nobody holds (a cgscope that was
  // killed left them), ending what still runs there, and says so on stderr.
  static Result<CommandRun> make_cgroup(const std::string& cgroup_mount);

  // Forks CMD, held before exec (PATH resolved here, so CMD execs exactly once).
  Result<void> spawn(const std::vector<std::string>& argv);
  // Moves CMD into the cgroup and lets it exec; fails with the exec error.
  Result<void> start();

  const ScopedCgroup& cgroup() const { return cgroup_; }
  pid_t pid() const { return child_ ? child_->pid() : -1; }

  // A stop signal: the first is passed to CMD (it may clean up), a later one, or
  // one after CMD is gone, kills everything left in the cgroup.
  void forward_signal(int sig);
  // CMD has exited and nothing is left in its cgroup.
  bool done();
  // CMD's exit status (128 + signal when killed). Whatever is still running in
  // the cgroup is killed first: CMD does not outlive the run it was started for.
  int finish();
  // CMD's exit status once it and everything it started have exited by
  // themselves (a trace that detached, as strace does); stop signals meanwhile
  // go to forward_signal().
  int wait();

 private:
  explicit CommandRun(ScopedCgroup cg) : cgroup_(std::move(cg)) {}
  // Held while this run lives, so that another run's sweep leaves the cgroup
  // alone; declared first, so released only after the cgroup is gone.
  std::optional<DirLock> lock_;
  ScopedCgroup cgroup_;
  std::optional<HeldChild> child_;
  std::optional<int> status_;
  int signals_ = 0;
};

}  // namespace cgscope
