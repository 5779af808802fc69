// `cgscope seccomp run FILE -- CMD`: CMD under the seccomp profile in FILE. cgscope
// parses the profile, builds the filter, loads it into itself and execs CMD in
// its place, so CMD's exit status is the command's own and the only call made
// under the filter before CMD's first instruction is that one execve: the same
// window a traced `cgscope trace -- CMD` shows (its held child is released at
// its execve), which is why a traced profile is enough to start CMD.
#pragma once

#include <string>
#include <vector>

namespace cgscope::seccomp {

// Execs CMD (never returns then). Otherwise returns the exit code: 2 for a
// profile that cannot be loaded (one line on stderr saying why), 127 when CMD
// cannot be run.
int run_under_profile(const std::string& file, const std::vector<std::string>& argv);

}  // namespace cgscope::seccomp
