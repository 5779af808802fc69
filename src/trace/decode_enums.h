// Arguments that are one small enum or flag word each, read from one table:
// lseek's whence, the rlimit resources, rt_sigprocmask's how, arch_prctl's
// option, access's mode, mremap's flags, futex's op.
#pragma once

#include <cstdint>
#include <string>

namespace cgscope::trace {

// "SEEK_SET" ... "SEEK_HOLE".
void format_seek_whence(std::string& out, uint64_t v);

// "RLIMIT_NOFILE", "RLIMIT_STACK".
void format_rlimit_resource(std::string& out, uint64_t v);

// "SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK".
void format_sigprocmask_how(std::string& out, uint64_t v);

// "ARCH_SET_FS", "ARCH_GET_XCOMP_SUPP"; unknown options in hex (they are
// 0x1001-style codes).
void format_arch_prctl_option(std::string& out, uint64_t v);

// access/faccessat mode: "F_OK" for 0, else "R_OK|W_OK|X_OK".
void format_access_mode(std::string& out, uint64_t v);

// mremap flags: "MREMAP_MAYMOVE|MREMAP_FIXED".
void format_mremap_flags(std::string& out, uint64_t v);

// futex(2) op as strace shows it: the command with "_PRIVATE" appended for
// FUTEX_PRIVATE_FLAG ("FUTEX_WAIT_PRIVATE"), then "|FUTEX_CLOCK_REALTIME".
void format_futex_op(std::string& out, uint64_t v);

// Whether futex's utime is a struct timespec * for op (the wait ops:
// FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI,
// FUTEX_LOCK_PI2); for the others it is a number (val2) or unused.
bool futex_op_has_timeout(uint64_t op);

}  // namespace cgscope::trace
