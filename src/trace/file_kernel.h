// The kernel half of path tracking that Tracer configures (bpf/lib/trace_fd.bpf.h):
// which syscalls count as path moves, and reading the generation back.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>

#include "cgscope/abi/trace.h"
#include "core/result.h"

struct trace_bpf;

namespace cgscope::trace {

// Before load: `moves` get CGS_WANT_PATHGEN and their entry tracepoints load
// (none at all when `moves` is empty; from the generic sys_enter hook instead
// when `via_sys_enter`); with `modes` the kernel reads each file's mode too.
// With `close_at_entry` close's fd is resolved at its entry (trace_close.bpf.h),
// by its own tracepoint or, `via_sys_enter`, the generic hook; without it the
// program does not load and its slots shrink to one.
Result<void> configure_file_paths(trace_bpf* skel, const std::bitset<CGS_MAX_SYSCALLS>& moves, bool via_sys_enter,
                                  bool modes, bool close_at_entry);

// Before load: the calls whose file sums the kernel makes (CGS_FSUM_* by
// syscall, trace_fsum.bpf.h); with none, its slots shrink to one.
Result<void> configure_file_sums(trace_bpf* skel, const std::array<uint8_t, CGS_MAX_SYSCALLS>& calls);

struct PathGeneration {
  uint32_t gen = 0;
  bool moving = false;  // a path-moving syscall is running now
};
// The generation now, for fds user space resolves itself (/proc at start).
PathGeneration read_path_generation(const trace_bpf* skel);

}  // namespace cgscope::trace
