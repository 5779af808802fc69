// Where a command's name leads, as execve will need it: a name with a '/' is
// taken as it is; otherwise PATH is searched (the usual default when unset) for
// a regular executable file. Searched in the parent, so that the child makes
// exactly one execve: a search there would show in a trace as a row of failed
// execve calls, and under a seccomp filter could not always report a failure.
#pragma once

#include <string>

#include "core/result.h"

namespace cgscope {

Result<std::string> resolve_command(const std::string& name);

}  // namespace cgscope
