// The ia32 (i386) syscalls: what a 32-bit process, or a 64-bit one entering the
// kernel through `int 0x80`, calls. Same kernel, other numbers: 5 is open there,
// fstat here. The kernel side tells them apart (bpf/lib/trace_ia32.bpf.h) and
// numbers their records CGS_IA32_NR_BASE + the i386 number, so one number space
// holds both tables.
//
// The table is data/syscalls_ia32.inc (scripts/gen-syscall-table-ia32.py):
// arguments and sets borrowed from the x86_64 call of the same arguments.
//
// Names: the bare name ("open") plus the abi field is what JSON shows; the
// qualified name ("ia32:open") is what the table output shows and -e accepts.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "cgscope/abi/trace.h"
#include "trace/arg_spec.h"
#include "trace/event_table.h"

namespace cgscope::trace {

constexpr bool is_ia32_nr(uint32_t nr) {
  return nr >= CGS_IA32_NR_BASE && nr < CGS_IA32_NR_BASE + CGS_IA32_MAX_SYSCALLS;
}

// A syscall's record (either table), not a pseudo event's.
constexpr bool is_syscall_nr(uint32_t nr) { return nr < CGS_MAX_SYSCALLS || is_ia32_nr(nr); }

// The kernel-side table slot of a syscall record number (abi/trace.h).
constexpr uint32_t kernel_slot(uint32_t nr) { return is_ia32_nr(nr) ? CGS_IA32_SLOT + (nr - CGS_IA32_NR_BASE) : nr; }

// By i386 number; nullptr for a number with no syscall.
const EventInfo* find_ia32_event(uint32_t i386_nr);

// By bare name ("open"); nullptr if unknown.
const EventInfo* find_ia32_event(std::string_view name);

// Every ia32 syscall, by number; EventInfo::nr is CGS_IA32_NR_BASE + i386 number.
std::span<const EventInfo> ia32_events();

// "x86_64" or "ia32".
std::string_view abi_name(Abi abi);

// "ia32:open" for an ia32 syscall, the plain name for anything else.
std::string qualified_name(const EventInfo& e);

// An ia32 argument as its format reads it: the kernel sends the 32-bit register
// zero-extended; signed ones (an int fd, AT_FDCWD, a pid) are sign-extended here.
uint64_t ia32_arg_value(ArgFormat format, uint64_t raw);

}  // namespace cgscope::trace
