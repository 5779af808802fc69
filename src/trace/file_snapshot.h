// The fds the processes in scope already have when a trace starts, read from
// /proc, for the fd table: without them a close of an fd opened before the trace
// could not be named. Only for scopes that name processes or cgroups (-p, -c,
// --container, -- CMD); for the whole machine the table starts empty.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "trace/file_kernel.h"

namespace cgscope::trace {

class FileTracker;

// The processes of the scope: `pids` (and their descendants with `follow`) and
// every process in the cgroups `cgroup_ids` and below them.
std::vector<pid_t> scope_processes(const std::string& cgroup_mount, const std::vector<uint64_t>& cgroup_ids,
                                   const std::vector<pid_t>& pids, bool follow);

// Seeds `files` with the fds of `pids` as /proc shows them now. `gen` is the path
// generation read before the first readlink. A process that ends meanwhile, or an
// fd closed meanwhile, is skipped; a path outside the process's root is too (the
// kernel would name it from another root than /proc does).
void seed_fds(FileTracker& files, const std::vector<pid_t>& pids, PathGeneration gen);

}  // namespace cgscope::trace
