#include "core/command_run.h"

#include <unistd.h>

#include <fmt/format.h>

#include "core/small_file.h"

namespace cgscope {
namespace {

// "populated 0" in cgroup.events: every process of the cgroup has exited. A
// cgroup that cannot be read counts as empty, so that a run cannot wait forever.
bool populated(const std::string& path) {
  auto text = read_small_file(path + "/cgroup.events");
  if (!text) return false;
  auto at = text->find("populated ");
  return at != std::string::npos && at + 10 < text->size() && (*text)[at + 10] != '0';
}

}  // namespace

Result<CommandRun> CommandRun::make_cgroup(const std::string& cgroup_mount) {
  auto cg = ScopedCgroup::create(cgroup_mount, fmt::format("cgscope-run-{}", getpid()));
  if (!cg) return fail_with("creating a cgroup for the command", cg.error());
  return CommandRun(std::move(*cg));
}

Result<void> CommandRun::spawn(const std::vector<std::string>& argv) {
  auto c = HeldChild::spawn(argv);
  if (!c) return fail_with(c.error());
  child_.emplace(std::move(*c));
  return {};
}

Result<void> CommandRun::start() {
  if (!child_) return fail("starting the command: none was spawned", EINVAL);
  if (auto r = cgroup_.add_pid(child_->pid()); !r) return r;
  return child_->release();
}

void CommandRun::forward_signal(int sig) {
  if (++signals_ == 1 && child_ && !status_) child_->signal(sig);
  else (void)cgroup_.kill_all();
}

bool CommandRun::done() {
  if (!child_) return true;
  if (!status_) status_ = child_->try_wait();
  // CMD's exit alone is not the end: what it started in the background goes on.
  return status_ && !populated(cgroup_.path());
}

int CommandRun::finish() {
  if (!child_) return 0;
  (void)cgroup_.kill_all();
  while (!status_) {
    status_ = child_->try_wait();
    if (!status_) ::usleep(1000);
  }
  return *status_;
}

}  // namespace cgscope
