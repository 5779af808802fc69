// fcntl(2): the command by name, and its argument and its result, whose meaning
// the command decides (F_SETFL's argument and F_GETFL's result are open flags,
// F_SETFD's and F_GETFD's are FD_CLOEXEC, F_DUPFD's argument is a number).
#pragma once

#include <cstdint>
#include <string>

namespace cgscope::trace {

// "F_GETFL", "F_DUPFD_CLOEXEC"; unknown commands in decimal.
void format_fcntl_cmd(std::string& out, uint64_t cmd);

// How fcntl's third argument reads for `cmd`.
enum class FcntlArg : uint8_t {
  none,     // the command takes no argument: the register as it was, in hex
  number,   // a count, an fd, a pid (JSON number)
  named,    // flags or an enum by name (JSON string)
  pointer,  // a struct flock, f_owner_ex, a u64 hint (hex)
};
FcntlArg fcntl_arg_kind(uint64_t cmd);

// fcntl's third argument as `cmd` reads it: "O_RDONLY|O_NONBLOCK" for F_SETFL,
// "FD_CLOEXEC" for F_SETFD, "SIGIO" for F_SETSIG, "5" for F_DUPFD, "0x7ffd..."
// for F_SETLK.
void format_fcntl_arg(std::string& out, uint64_t cmd, uint64_t arg);

// A successful fcntl's result by name where `cmd` returns flags or an enum
// (F_GETFL, F_GETFD, F_GETSIG, F_GETLEASE, F_GET_SEALS); false, with nothing
// appended, where the result is a number (an fd, a pid, a size).
bool format_fcntl_ret(std::string& out, uint64_t cmd, int64_t ret);

}  // namespace cgscope::trace
