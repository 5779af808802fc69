// -s and --argv-max: what the kernel keeps of argv/envp and of buffers
// (bpf/lib/capture.bpf.h), which user space needs to know once more to mark an
// argv element the kernel cut (it keeps one byte more than it shows, so that the
// cut is exact). Paths are not cut by -s: strace prints file names whole too
// (they are kept up to CGS_STR_KEEP_MAX). Set once, before the first event, by
// the session.
#pragma once

#include <cstdint>
#include <optional>

#include "cgscope/abi/trace.h"

namespace cgscope::trace {

struct ArgLimits {
  uint32_t elem_keep = 0;                   // bytes of an argv element, 0: no own limit (-s)
  uint32_t argv_elems = CGS_ARGV_MAX_ELEMS; // argv/envp elements (--argv-max)
};

const ArgLimits& arg_limits();
void set_arg_limits(const ArgLimits& l);

struct KernelConfig;
// -s N (none: as the defaults above) and --argv-max N into the kernel's
// configuration, and into arg_limits() for the decoder. -s also caps
// --capture-buffers.
void apply_arg_limits(std::optional<uint32_t> string_limit, uint32_t argv_max, KernelConfig& cfg);

}  // namespace cgscope::trace
