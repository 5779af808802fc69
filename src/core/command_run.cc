#include "core/command_run.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

constexpr std::string_view kRunPrefix = "cgscope-run-";

// Whether the cgscope that made cgscope-run-<pid> still runs (a reused pid is
// another program's: its comm is not cgscope's).
bool owner_alive(pid_t pid) {
  auto comm = read_small_file(fmt::format("/proc/{}/comm", pid));
  return comm && comm->rfind("cgscope", 0) == 0;
}

// The cgscope-run-<pid> cgroups whose cgscope was killed before it could remove
// them: what is left in them is killed (CMD never outlives its run) and they
// go. Returns one line for the user, or "" when there was nothing.
std::string sweep_stale_runs(const std::string& mount) {
  DIR* d = ::opendir(mount.c_str());
  if (!d) return "";
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.substr(0, kRunPrefix.size()) != kRunPrefix) continue;
    char* end = nullptr;
    long pid = std::strtol(std::string(name.substr(kRunPrefix.size())).c_str(), &end, 10);
    if (pid > 0 && *end == 0 && pid != getpid() && !owner_alive(pid_t(pid))) names.emplace_back(name);
  }
  ::closedir(d);
  std::vector<std::string> removed;
  for (const std::string& n : names) {
    auto cg = ScopedCgroup::adopt(mount + "/" + n);
    if (cg && cg->remove()) removed.push_back(n);
  }
  if (removed.empty()) return "";
  return fmt::format("removed {} left by a cgscope that was killed, with what still ran in it",
                     fmt::join(removed, ", "));
}

}  // namespace

Result<CommandRun> CommandRun::make_cgroup(const std::string& cgroup_mount) {
  if (std::string note = sweep_stale_runs(cgroup_mount); !note.empty()) std::fprintf(stderr, "cgscope: %s\n", note.c_str());
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
