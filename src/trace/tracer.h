// The kernel side of `cgscope trace` as one RAII object: opens the embedded
// skeleton, sets the load-time configuration, loads, attaches, and hands every
// ring buffer record to a callback. Destroying it detaches everything.
#pragma once

#include <array>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cgscope/abi/trace.h"
#include "core/result.h"
#include "core/ring_reader.h"
#include "trace/file_kernel.h"
#include "trace/summary_table.h"

struct trace_bpf;

namespace cgscope::trace {

struct KernelConfig {
  std::bitset<CGS_MAX_SYSCALLS> syscalls;  // emitted at sys_exit
  std::bitset<CGS_IA32_MAX_SYSCALLS> ia32_syscalls;  // the same, ia32 calls by i386 number
  bool fork = false, exec = false, exit = false, cgroup_mkdir = false;  // selected pseudo events
  // The tcp_state pseudo event (bpf/lib/trace_net.bpf.h): its program is loaded
  // only when it is selected.
  bool tcp_state = false;
  // udp_peer/udp_close (bpf/lib/trace_udp.bpf.h): their programs are loaded, and
  // attached to the cgroup v2 root at `cgroup2_mount`, only when one is selected.
  bool udp = false;
  std::string cgroup2_mount;
  uint32_t self_tgid = 0;
  bool only_failed = false;
  uint32_t capture_bytes = 0;  // 0: buffers off
  bool capture_envp = false;
  // -s and --argv-max (arg_limits.h).
  uint32_t elem_keep = 0, argv_elems = CGS_ARGV_MAX_ELEMS;
  std::optional<uint32_t> uid;
  std::optional<std::string> comm;
  bool filter_cgroup = false;  // scope_cgroups applies (add_scope_cgroup)
  bool filter_pid = false;     // scope_pids applies (add_scope_pid)
  bool follow = false;         // children of scope pids join the scope
  uint32_t ringbuf_bytes = 16u << 20;  // rounded up to a power of two by open()
  // execve/exit entry captured at the generic sys_enter hook instead of the
  // per-syscall tracepoints: for hosts where tracefs cannot be mounted.
  bool entry_via_sys_enter = false;
  // Syscalls that move paths (rename, mount...), counted for close's path when
  // it is shown (bpf/lib/trace_fd.bpf.h, src/trace/file_kernel.h).
  std::bitset<CGS_MAX_SYSCALLS> path_moves;
  std::bitset<CGS_MAX_SYSCALLS> fd_gone;  // seen only to end path slots (CGS_WANT_FDGONE)
  bool close_paths = false;  // close is shown: its path is resolved at its entry
  bool file_modes = false;  // file_write/file_read: each file's mode (regular or not)
  // file_write/file_read summed in the kernel (bpf/lib/trace_fsum.bpf.h):
  // CGS_FSUM_* by syscall, all 0 for none.
  std::array<uint8_t, CGS_MAX_SYSCALLS> file_sums{};
  // --summary: these syscalls are counted in the kernel (bpf/lib/trace_summary.bpf.h),
  // whether or not they are also emitted (`syscalls`).
  std::bitset<CGS_MAX_SYSCALLS> counted;
  std::bitset<CGS_IA32_MAX_SYSCALLS> counted_ia32;  // the same, ia32 calls by i386 number
  bool durations = false;  // -T: records carry CGS_REC_F_DURATION
  bool signal_generate = false, signal_deliver = false;  // the `signals` events
};


using RecordFn = std::function<void(std::span<const uint8_t>)>;

class Tracer {
 public:
  static Result<std::unique_ptr<Tracer>> open(const KernelConfig& cfg, RecordFn on_record);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  Result<void> add_scope_cgroup(uint64_t id, uint32_t level);
  Result<void> add_scope_pid(uint32_t tgid);
  // Events of this process are dropped until it calls execve (the `-- CMD` child).
  void set_hold_tgid(uint32_t tgid);
  // The path generation now (file_kernel.h), for fds resolved from /proc.
  PathGeneration path_generation() const;
  // The kernel's file_write/file_read slots (a map fd), -1 when it makes none.
  int file_sums_fd() const;
  // The kernel's UDP pair counters (map udp_pairs), -1 when UDP is not traced.
  int udp_pairs_fd() const;
  // Every few seconds: deletes the UDP pairs without a datagram for a minute,
  // which nothing else takes (with --flows the flow table takes its own after
  // 30 s; a stream of udp_peer events takes none): the map stays bounded by the
  // pairs alive, and a pair's next datagram makes and reports it again.
  void expire_udp_pairs();

  // Waits up to timeout_ms for a wake-up, then drains every record there is
  // (records sent without a wake-up included). Returns how many were handled.
  Result<int> poll(int timeout_ms);
  // Per-reason totals over all CPUs (enum cgs_drop_reason).
  std::array<uint64_t, CGS_DROP_NR_REASONS> drops() const;
  // --summary: the kernel's counters, summed over CPUs; syscalls never called left out.
  std::vector<SummaryInput> syscall_totals() const;

 private:
  Tracer() = default;
  Result<void> load_and_attach(const KernelConfig& cfg);
  Result<void> attach_udp(const std::string& cgroup2_mount);

  trace_bpf* skel_ = nullptr;
  std::optional<RingReader> ring_;
  RecordFn on_record_;
  unsigned scope_cgroup_count_ = 0;
  std::chrono::steady_clock::time_point next_udp_expiry_{};
};

}  // namespace cgscope::trace
