// Values from the headers: <unistd.h> (SEEK_*, *_OK), <sys/resource.h>
// (RLIMIT_*), <signal.h> (SIG_BLOCK...), <asm/prctl.h> (ARCH_*), <sys/mman.h>
// (MREMAP_*), <linux/futex.h> (FUTEX_*).
#include "trace/decode_enums.h"

#include <asm/prctl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <csignal>

#include "trace/named.h"

namespace cgscope::trace {
namespace {

using namespace named;

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4  // <linux/mman.h> since 5.7
#endif

constexpr std::array kWhence = {
    NAMED(SEEK_SET), NAMED(SEEK_CUR), NAMED(SEEK_END), NAMED(SEEK_DATA), NAMED(SEEK_HOLE),
};

constexpr std::array kRlimits = {
    NAMED(RLIMIT_CPU),     NAMED(RLIMIT_FSIZE),      NAMED(RLIMIT_DATA),     NAMED(RLIMIT_STACK),
    NAMED(RLIMIT_CORE),    NAMED(RLIMIT_RSS),        NAMED(RLIMIT_NPROC),    NAMED(RLIMIT_NOFILE),
    NAMED(RLIMIT_MEMLOCK), NAMED(RLIMIT_AS),         NAMED(RLIMIT_LOCKS),    NAMED(RLIMIT_SIGPENDING),
    NAMED(RLIMIT_MSGQUEUE), NAMED(RLIMIT_NICE),      NAMED(RLIMIT_RTPRIO),   NAMED(RLIMIT_RTTIME),
};

constexpr std::array kHow = {NAMED(SIG_BLOCK), NAMED(SIG_UNBLOCK), NAMED(SIG_SETMASK)};

constexpr std::array kArchPrctl = {
    NAMED(ARCH_SET_GS),          NAMED(ARCH_SET_FS),          NAMED(ARCH_GET_FS),
    NAMED(ARCH_GET_GS),          NAMED(ARCH_GET_CPUID),       NAMED(ARCH_SET_CPUID),
    NAMED(ARCH_GET_XCOMP_SUPP),  NAMED(ARCH_GET_XCOMP_PERM),  NAMED(ARCH_REQ_XCOMP_PERM),
    NAMED(ARCH_GET_XCOMP_GUEST_PERM), NAMED(ARCH_REQ_XCOMP_GUEST_PERM),
    NAMED(ARCH_MAP_VDSO_X32),    NAMED(ARCH_MAP_VDSO_32),     NAMED(ARCH_MAP_VDSO_64),
};

// In strace's order: read, write, execute.
constexpr std::array kAccess = {NAMED(R_OK), NAMED(W_OK), NAMED(X_OK)};

constexpr std::array kMremap = {NAMED(MREMAP_MAYMOVE), NAMED(MREMAP_FIXED), NAMED(MREMAP_DONTUNMAP)};

constexpr std::array kFutexCmds = {
    NAMED(FUTEX_WAIT),          NAMED(FUTEX_WAKE),        NAMED(FUTEX_FD),
    NAMED(FUTEX_REQUEUE),       NAMED(FUTEX_CMP_REQUEUE), NAMED(FUTEX_WAKE_OP),
    NAMED(FUTEX_LOCK_PI),       NAMED(FUTEX_UNLOCK_PI),   NAMED(FUTEX_TRYLOCK_PI),
    NAMED(FUTEX_WAIT_BITSET),   NAMED(FUTEX_WAKE_BITSET), NAMED(FUTEX_WAIT_REQUEUE_PI),
    NAMED(FUTEX_CMP_REQUEUE_PI), Named{13, "FUTEX_LOCK_PI2"},  // <linux/futex.h> since 5.14
};

}  // namespace

void format_seek_whence(std::string& out, uint64_t v) { append_enum(out, v, kWhence); }

void format_rlimit_resource(std::string& out, uint64_t v) { append_enum(out, v, kRlimits); }

void format_sigprocmask_how(std::string& out, uint64_t v) { append_enum(out, v, kHow); }

void format_arch_prctl_option(std::string& out, uint64_t v) {
  std::string_view name = find_name(static_cast<uint32_t>(v), kArchPrctl);
  if (name.empty()) append_hex(out, static_cast<uint32_t>(v));
  else out += name;
}

void format_access_mode(std::string& out, uint64_t v) {
  append_flags(out, static_cast<uint32_t>(v), kAccess, "F_OK");
}

void format_mremap_flags(std::string& out, uint64_t v) { append_flags(out, v, kMremap); }

void format_futex_op(std::string& out, uint64_t v) {
  auto op = static_cast<uint32_t>(v);
  uint32_t cmd = op & FUTEX_CMD_MASK;
  uint32_t rest = op & ~static_cast<uint32_t>(FUTEX_CMD_MASK | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  bool first = true;
  if (std::string_view name = find_name(cmd, kFutexCmds); !name.empty()) {
    append_sep(out, first);
    out += name;
    if (op & FUTEX_PRIVATE_FLAG) out += "_PRIVATE";
  } else {
    // No name to append _PRIVATE to: the flag by its own name.
    rest |= cmd;
    if (op & FUTEX_PRIVATE_FLAG) {
      append_sep(out, first);
      out += "FUTEX_PRIVATE_FLAG";
    }
  }
  if (op & FUTEX_CLOCK_REALTIME) {
    append_sep(out, first);
    out += "FUTEX_CLOCK_REALTIME";
  }
  append_rest(out, rest, first);
}

bool futex_op_has_timeout(uint64_t op) {
  switch (static_cast<uint32_t>(op) & FUTEX_CMD_MASK) {
    case FUTEX_WAIT:
    case FUTEX_LOCK_PI:
    case FUTEX_WAIT_BITSET:
    case FUTEX_WAIT_REQUEUE_PI:
    case 13:  // FUTEX_LOCK_PI2, named above
      return true;
    default:
      return false;
  }
}

}  // namespace cgscope::trace
