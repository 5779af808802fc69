// Command values from <fcntl.h> (glibc's spellings of <asm-generic/fcntl.h> and
// <linux/fcntl.h>); the two glibc lacks are defined from <linux/fcntl.h>.
#include "trace/decode_fcntl.h"

#include <fcntl.h>

#include <array>

#include "trace/flags.h"
#include "trace/named.h"

namespace cgscope::trace {
namespace {

using namespace named;

constexpr std::array kCmds = {
    NAMED(F_DUPFD),       NAMED(F_GETFD),         NAMED(F_SETFD),        NAMED(F_GETFL),
    NAMED(F_SETFL),       NAMED(F_GETLK),         NAMED(F_SETLK),        NAMED(F_SETLKW),
    NAMED(F_SETOWN),      NAMED(F_GETOWN),        NAMED(F_SETSIG),       NAMED(F_GETSIG),
    NAMED(F_SETOWN_EX),   NAMED(F_GETOWN_EX),     Named{17, "F_GETOWNER_UIDS"},
    NAMED(F_OFD_GETLK),   NAMED(F_OFD_SETLK),     NAMED(F_OFD_SETLKW),   NAMED(F_SETLEASE),
    NAMED(F_GETLEASE),    NAMED(F_NOTIFY),        Named{1029, "F_CANCELLK"},
    NAMED(F_DUPFD_CLOEXEC), NAMED(F_SETPIPE_SZ),  NAMED(F_GETPIPE_SZ),   NAMED(F_ADD_SEALS),
    NAMED(F_GET_SEALS),   NAMED(F_GET_RW_HINT),   NAMED(F_SET_RW_HINT),  NAMED(F_GET_FILE_RW_HINT),
    NAMED(F_SET_FILE_RW_HINT),
};

constexpr std::array kFdFlags = {NAMED(FD_CLOEXEC)};
constexpr std::array kLeases = {NAMED(F_RDLCK), NAMED(F_WRLCK), NAMED(F_UNLCK)};
constexpr std::array kSeals = {
    NAMED(F_SEAL_SEAL), NAMED(F_SEAL_SHRINK), NAMED(F_SEAL_GROW), NAMED(F_SEAL_WRITE), NAMED(F_SEAL_FUTURE_WRITE),
};
constexpr std::array kNotify = {
    NAMED(DN_ACCESS), NAMED(DN_MODIFY), NAMED(DN_CREATE), NAMED(DN_DELETE),
    NAMED(DN_RENAME), NAMED(DN_ATTRIB), NAMED(DN_MULTISHOT),
};

}  // namespace

void format_fcntl_cmd(std::string& out, uint64_t cmd) { append_enum(out, static_cast<uint32_t>(cmd), kCmds); }

FcntlArg fcntl_arg_kind(uint64_t cmd) {
  switch (static_cast<uint32_t>(cmd)) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
    case F_SETOWN:
    case F_SETPIPE_SZ:
      return FcntlArg::number;
    case F_SETFD:
    case F_SETFL:
    case F_SETSIG:
    case F_SETLEASE:
    case F_NOTIFY:
    case F_ADD_SEALS:
      return FcntlArg::named;
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
    case F_SETOWN_EX:
    case F_GETOWN_EX:
    case F_GET_RW_HINT:
    case F_SET_RW_HINT:
    case F_GET_FILE_RW_HINT:
    case F_SET_FILE_RW_HINT:
      return FcntlArg::pointer;
    default:
      return FcntlArg::none;
  }
}

void format_fcntl_arg(std::string& out, uint64_t cmd, uint64_t arg) {
  switch (static_cast<uint32_t>(cmd)) {
    case F_SETFD: append_flags(out, static_cast<uint32_t>(arg), kFdFlags); return;
    case F_SETFL: format_open_flags(out, static_cast<uint32_t>(arg)); return;
    case F_SETSIG: format_signal(out, arg); return;
    case F_SETLEASE: append_enum(out, arg, kLeases); return;
    case F_NOTIFY: append_flags(out, static_cast<uint32_t>(arg), kNotify); return;
    case F_ADD_SEALS: append_flags(out, static_cast<uint32_t>(arg), kSeals); return;
    default: break;
  }
  // The kernel reads these as an int (an fd, a pid, a pipe size).
  if (fcntl_arg_kind(cmd) == FcntlArg::number) append_dec(out, static_cast<int32_t>(arg));
  else append_hex(out, arg);
}

bool format_fcntl_ret(std::string& out, uint64_t cmd, int64_t ret) {
  if (ret < 0) return false;
  auto v = static_cast<uint64_t>(ret);
  switch (static_cast<uint32_t>(cmd)) {
    case F_GETFD: append_flags(out, v, kFdFlags); return true;
    case F_GETFL: format_open_flags(out, v); return true;
    case F_GETSIG: format_signal(out, v); return true;
    case F_GETLEASE: append_enum(out, v, kLeases); return true;
    case F_GET_SEALS: append_flags(out, v, kSeals); return true;
    default: return false;
  }
}

}  // namespace cgscope::trace
