#include "trace/pid_watch.h"

#include <string>

#include <fmt/format.h>

#include "core/small_file.h"
#include "trace/proc_tree.h"

namespace cgscope::trace {
namespace {

// Running, or stopped: anything but gone or a zombie (it has exited, its parent
// has not reaped it yet; it makes no syscall again).
bool running(pid_t pid) {
  auto stat = read_small_file(fmt::format("/proc/{}/stat", pid));
  if (!stat) return false;
  size_t close = stat->rfind(')');  // "pid (comm) state ...": comm may hold ')'
  if (close == std::string::npos || close + 2 >= stat->size()) return false;
  char state = (*stat)[close + 2];
  return state != 'Z' && state != 'X';
}

}  // namespace

Result<void> require_running(const std::vector<pid_t>& pids) {
  for (pid_t p : pids) {
    if (p <= 0) return fail(fmt::format("-p {} is not a process id; give the pid of a running process", p), EINVAL);
    if (!running(p))
      return fail(fmt::format("-p {}: no such process (or it has exited); `ps -e` lists the running ones", p), ESRCH);
  }
  return {};
}

void PidWatch::on_lifecycle(const cgs_record& h) {
  if (h.nr == CGS_EV_PROCESS_FORK) {
    // A new thread has its parent's tgid: only a new process joins.
    pid_t child = pid_t(h.args[0]);
    if (follow_ && child != pid_t(h.pid) && live_.count(pid_t(h.pid))) live_.insert(child);
  } else if (h.nr == CGS_EV_PROCESS_EXIT) {
    live_.erase(pid_t(h.pid));
  }
}

bool PidWatch::all_gone() {
  if (live_.empty()) return true;
  auto now = std::chrono::steady_clock::now();
  if (now < next_check_) return false;
  next_check_ = now + std::chrono::milliseconds(250);
  // A fork the other filters (--comm, -u) kept from the stream is in /proc.
  if (follow_)
    for (pid_t p : descendants_of(std::vector<pid_t>(live_.begin(), live_.end()))) live_.insert(p);
  std::erase_if(live_, [](pid_t p) { return !running(p); });
  return live_.empty();
}

}  // namespace cgscope::trace
