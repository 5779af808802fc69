#include "core/command_run.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/dir_lock.h"
#include "core/small_file.h"
#include "core/stop_signal.h"

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

constexpr std::string_view kRunPrefix = "cgscope-run-";

// The cgscope-run-* cgroups whose cgscope is gone: each run holds a lock on its
// cgroup directory for its whole life (dir_lock.h), so one whose lock can be
// taken was left by a cgscope that was killed, in this pid namespace or another.
// What is left in them is killed (CMD never outlives its run) and they go.
// Returns one line for the user, or "" when there was nothing.
std::string sweep_stale_runs(const std::string& mount) {
  DIR* d = ::opendir(mount.c_str());
  if (!d) return "";
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.substr(0, kRunPrefix.size()) == kRunPrefix && e->d_type == DT_DIR) names.emplace_back(name);
  }
  ::closedir(d);
  std::vector<std::string> removed, failed;
  for (const std::string& n : names) {
    std::string path = mount + "/" + n;
    auto lock = DirLock::try_lock(path);
    if (!lock || !*lock) continue;  // its cgscope still runs (or the cgroup just went)
    auto cg = ScopedCgroup::adopt(path);
    if (cg && cg->remove()) removed.push_back(n);
    else failed.push_back(n);
  }
  std::string note;
  if (!removed.empty())
    note = fmt::format("removed {} left by a cgscope that was killed, with what still ran in it",
                       fmt::join(removed, ", "));
  if (!failed.empty())
    note += fmt::format("{}could not remove {}, left by a cgscope that was killed", note.empty() ? "" : "; ",
                        fmt::join(failed, ", "));
  return note;
}

}  // namespace

Result<CommandRun> CommandRun::make_cgroup(const std::string& cgroup_mount) {
  if (std::string note = sweep_stale_runs(cgroup_mount); !note.empty()) std::fprintf(stderr, "cgscope: %s\n", note.c_str());
  auto cg = ScopedCgroup::create(cgroup_mount, fmt::format("cgscope-run-{}", getpid()));
  if (!cg) return fail_with("creating a cgroup for the command", cg.error());
  auto lock = DirLock::try_lock(cg->path());
  if (!lock) return fail_with("locking the command's cgroup", lock.error());
  if (!*lock) return fail("the command's cgroup " + cg->path() + " is locked by another cgscope", EBUSY);
  CommandRun run(std::move(*cg));
  run.lock_.emplace(std::move(**lock));
  return run;
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

int CommandRun::wait() {
  while (!done()) {
    if (int sig = take_stop_signal()) forward_signal(sig);
    ::usleep(20 * 1000);
  }
  return finish();  // nothing is left to kill: the status
}

}  // namespace cgscope
