// The process tree as /proc shows it now: for `--follow`, the descendants that
// already exist when tracing starts (the kernel adds the later ones at fork).
#pragma once

#include <sys/types.h>

#include <vector>

namespace cgscope::trace {

// Every process below `roots`, from each /proc/PID/stat's ppid. A process that
// ends during the walk is skipped.
std::vector<pid_t> descendants_of(const std::vector<pid_t>& roots);

}  // namespace cgscope::trace
