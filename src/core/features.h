// What the kernel and the process must offer before anything is loaded, checked
// up front so that a missing piece is one clear sentence instead of a verifier log.
#pragma once

#include <string>

#include "core/result.h"

namespace cgscope {

// Root (or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN): loading BPF needs it.
Result<void> require_root(std::string_view command);

// Kernel BTF at /sys/kernel/btf/vmlinux: CO-RE programs relocate against it.
Result<void> require_btf();

// The kernel facilities a job's BPF programs use, probed by loading tiny test
// programs (libbpf_probe_*) before the real ones, so that an older kernel gets
// one sentence naming what it lacks instead of a verifier log.
enum class KernelJob { trace, lb, proxy };
Result<void> require_kernel_features(KernelJob job);

// Sends libbpf's messages through our logging: warnings and errors only, unless
// `verbose`, so that a verifier rejection still reaches the user in full.
void route_libbpf_logs(bool verbose);

}  // namespace cgscope
