// A seccomp profile in the Docker/OCI JSON format (the format of moby's
// profiles/seccomp/default.json, which `docker run --security-opt seccomp=FILE`,
// podman and `cgscope seccomp run` read) that allows exactly a set of syscalls
// and makes every other one fail with EPERM.
//
// Names are the kernel's (asm/unistd_64.h, as cgscope's syscall table has them),
// which are libseccomp's too: tests/unit/seccomp_profile_test.cc checks every
// name of the table against the linked libseccomp, so no mapping is needed on
// x86_64. Names newer than a libseccomp (mseal with 2.5.4, say) are still the
// kernel's, which a newer libseccomp knows by the same name.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace cgscope::trace {

// The architectures of the profile, as libseccomp spells them.
inline constexpr std::string_view kScmpArchX86_64 = "SCMP_ARCH_X86_64";
// ia32 calls (int 0x80, 32-bit programs), named from the ia32 table.
inline constexpr std::string_view kScmpArchX86 = "SCMP_ARCH_X86";

// The errno of a call the profile does not allow: EPERM, as Docker's own default.
inline constexpr int kDeniedErrno = 1;

// (architecture, syscall name): one call seen on one architecture.
using SyscallUse = std::pair<std::string, std::string>;
using SyscallUses = std::set<SyscallUse>;

// The profile's JSON text (ends with a newline): default action SCMP_ACT_ERRNO
// with defaultErrnoRet 1, the architectures in `used`, one SCMP_ACT_ALLOW entry
// with the names, sorted. Deterministic: the same set gives the same bytes.
std::string seccomp_profile_json(const SyscallUses& used);

}  // namespace cgscope::trace
