#include "trace/tracer.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "core/unique_fd.h"
#include "trace.skel.h"
#include "trace/schema.h"

namespace cgscope::trace {

namespace {

uint32_t round_up_pow2(uint32_t v) {
  uint32_t p = 4096;
  while (p < v && p < (1u << 30)) p <<= 1;
  return p;
}

// Verifier and attach failures get the one hint that usually fixes them.
Error load_error(int err) {
  std::string hint;
  if (err == EPERM || err == EACCES)
    hint = " (run as root; with lockdown=confidentiality BPF tracing is not allowed)";
  else if (err == E2BIG || err == ENOMEM)
    hint = " (try a smaller --buffer-size)";
  else if (err == EINVAL || err == ENOENT)
    hint = " (the kernel may be too old: cgscope needs Linux 5.11+ with BTF; run with --verbose for the verifier log)";
  return Error{fmt::format("loading the trace programs: {}{}", std::strerror(err), hint), err};
}

// tcp_state costs nothing unless something needs it: the program is not loaded
// and its maps keep one entry.
Result<void> configure_tcp_state(trace_bpf* skel, bool wanted) {
  bpf_program__set_autoload(skel->progs.on_inet_sock_set_state, wanted);
  if (wanted) return {};
  for (bpf_map* m : {skel->maps.tcp_known, skel->maps.tcp_listeners})
    if (int err = bpf_map__set_max_entries(m, 1); err) return fail_errno("sizing the tcp_state maps", -err);
  return {};
}

// UDP's programs, like tcp_state's, cost nothing unless a UDP event is selected.
Result<void> configure_udp(trace_bpf* skel, bool wanted) {
  for (bpf_program* p : {skel->progs.on_udp_egress, skel->progs.on_udp_ingress, skel->progs.on_udp_release})
    bpf_program__set_autoload(p, wanted);
  if (wanted) {
    skel->rodata->udp_netns_cookie =
        libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_get_netns_cookie, nullptr) > 0;
    return {};
  }
  for (bpf_map* m : {skel->maps.udp_pairs, skel->maps.udp_known})
    if (int err = bpf_map__set_max_entries(m, 1); err) return fail_errno("sizing the UDP maps", -err);
  return {};
}

// The entry stamp (and its task storage) only when a time is asked for: the
// default path keeps its one hook per syscall.
void configure_summary(trace_bpf* skel, bool summary, bool durations) {
  bool times = summary || durations;
  skel->rodata->times_on = times;
  skel->rodata->record_durations = durations;
  bpf_program__set_autoload(skel->progs.on_sys_enter_time, times);
  if (!summary) bpf_map__set_max_entries(skel->maps.sum_stats, 1);
}

}  // namespace

Result<std::unique_ptr<Tracer>> Tracer::open(const KernelConfig& cfg, RecordFn on_record) {
  std::unique_ptr<Tracer> t(new Tracer());
  t->on_record_ = std::move(on_record);
  if (auto r = t->load_and_attach(cfg); !r) return fail_with(r.error());
  return t;
}

Result<void> Tracer::load_and_attach(const KernelConfig& cfg) {
  skel_ = trace_bpf__open();
  if (!skel_) return fail_errno("opening the embedded trace programs", errno);

  auto* ro = skel_->rodata;
  const Schema& schema = Schema::get();
  // slot: where the kernel's tables hold the call; nr: its record number.
  auto want = [&](uint32_t slot, uint32_t nr, bool is_exec) {
    ro->wanted[slot] |= CGS_WANT_EMIT;
    if (is_exec) return;  // captured at entry; exit carries only ret
    auto kinds = schema.kernel_kinds(nr);
    auto sizes = schema.kernel_struct_sizes(nr);
    bool sections = false;
    for (unsigned i = 0; i < CGS_NARGS; i++) {
      uint8_t kind = CGS_KIND(kinds[i]);
      if (kind == CGS_ARG_STRARR || (kind == CGS_ARG_BUF && cfg.capture_bytes == 0)) kinds[i] = CGS_ARG_RAW;
      ro->arg_kinds[slot][i] = kinds[i];
      ro->struct_size[slot][i] = sizes[i];
      sections |= CGS_KIND(kinds[i]) != CGS_ARG_RAW;
    }
    // select/pselect6: the section of their sets, kept at entry (trace_select.bpf.h);
    // configure_stamps (file_kernel.cc) keeps it so.
    ro->has_sections[slot] = sections || slot == CGS_NR_SELECT || slot == CGS_NR_PSELECT6;
    // Contents of iovecs: 64-bit calls only (ia32 ones capture no structs).
    if (cfg.capture_bytes && slot < CGS_MAX_SYSCALLS) ro->iov_data_arg[slot] = schema.kernel_iov_data_arg(nr);
  };
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++) {
    if (cfg.counted.test(nr)) ro->wanted[nr] |= CGS_WANT_COUNT;
    if (cfg.fd_gone.test(nr)) ro->wanted[nr] |= CGS_WANT_FDGONE;
    if (cfg.syscalls.test(nr)) want(nr, nr, nr == CGS_NR_EXECVE || nr == CGS_NR_EXECVEAT);
  }
  for (uint32_t nr = 0; nr < CGS_IA32_MAX_SYSCALLS; nr++) {
    if (cfg.counted_ia32.test(nr)) ro->wanted[CGS_IA32_SLOT + nr] |= CGS_WANT_COUNT;
    if (cfg.ia32_syscalls.test(nr))
      want(CGS_IA32_SLOT + nr, CGS_IA32_NR_BASE + nr, nr == CGS_IA32_NR_EXECVE || nr == CGS_IA32_NR_EXECVEAT);
  }
  // An execve that changes the ABI exits as the other ABI's call (the kernel
  // renumbers it): every exec exit slot must be able to end a recorded entry.
  const uint32_t exec_slots[] = {CGS_NR_EXECVE, CGS_NR_EXECVEAT, CGS_IA32_SLOT + CGS_IA32_NR_EXECVE,
                                 CGS_IA32_SLOT + CGS_IA32_NR_EXECVEAT};
  if (cfg.syscalls.test(CGS_NR_EXECVE) || cfg.syscalls.test(CGS_NR_EXECVEAT) ||
      cfg.ia32_syscalls.test(CGS_IA32_NR_EXECVE) || cfg.ia32_syscalls.test(CGS_IA32_NR_EXECVEAT))
    for (uint32_t slot : exec_slots) ro->wanted[slot] |= CGS_WANT_EXEC_EXIT;
  ro->wanted_fork = cfg.fork;
  ro->wanted_exec = cfg.exec;
  ro->wanted_exit = cfg.exit;
  ro->wanted_mkdir = cfg.cgroup_mkdir;
  ro->only_failed = cfg.only_failed;
  ro->capture_bytes = std::min<uint32_t>(cfg.capture_bytes, CGS_BUF_MAX);
  ro->capture_envp = cfg.capture_envp;
  ro->elem_keep = std::min<uint32_t>(cfg.elem_keep, CGS_STR_KEEP_MAX);
  ro->argv_elems = std::min<uint32_t>(cfg.argv_elems, CGS_ARGV_MAX_ELEMS);
  ro->self_tgid = cfg.self_tgid;
  ro->filter_cgroup_on = cfg.filter_cgroup;
  ro->filter_pid_on = cfg.filter_pid;
  ro->follow_children = cfg.follow;
  if (cfg.uid) {
    ro->filter_uid_on = 1;
    ro->filter_uid = *cfg.uid;
  }
  if (cfg.comm) {
    ro->filter_comm_on = 1;
    std::memset((void*)ro->filter_comm, 0, sizeof(ro->filter_comm));
    std::memcpy((void*)ro->filter_comm, cfg.comm->data(), std::min(cfg.comm->size(), sizeof(ro->filter_comm) - 1));
  }
  uint32_t rb_size = round_up_pow2(cfg.ringbuf_bytes);
  // Wake the reader early only when a quarter of the ring is in use; otherwise it
  // drains on its own timer, which saves a wake-up per record.
  ro->wakeup_bytes = rb_size / 4;

  if (int err = bpf_map__set_max_entries(skel_->maps.events, rb_size); err)
    return fail_errno("sizing the ring buffer", -err);
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return fail_errno("counting possible CPUs", -ncpu);
  if (int err = bpf_map__set_max_entries(skel_->maps.scratch_map, ncpu); err)
    return fail_errno("sizing the scratch map", -err);

  // One of the two ways of catching execve/exit at entry is loaded, never both.
  auto* progs = &skel_->progs;
  for (bpf_program* p : {progs->on_enter_execve, progs->on_enter_execveat, progs->on_enter_exit,
                         progs->on_enter_exit_group})
    bpf_program__set_autoload(p, !cfg.entry_via_sys_enter);
  bpf_program__set_autoload(progs->on_sys_enter, cfg.entry_via_sys_enter);
  // select's sets as they went in: its own entry tracepoints, or the generic hook.
  bool selects = cfg.syscalls.test(CGS_NR_SELECT) || cfg.syscalls.test(CGS_NR_PSELECT6);
  bpf_program__set_autoload(progs->on_enter_select, !cfg.entry_via_sys_enter && cfg.syscalls.test(CGS_NR_SELECT));
  bpf_program__set_autoload(progs->on_enter_pselect6, !cfg.entry_via_sys_enter && cfg.syscalls.test(CGS_NR_PSELECT6));
  if (!selects)
    if (int err = bpf_map__set_max_entries(skel_->maps.select_pending_map, 64); err)
      return fail_errno("sizing the select map", -err);
  // ia32 execve/execveat/exit/exit_group need an entry, and only the generic
  // hook sees ia32 entries (bpf/lib/trace_ia32.bpf.h).
  const auto& i32 = cfg.ia32_syscalls;
  bpf_program__set_autoload(progs->on_ia32_enter, i32.test(CGS_IA32_NR_EXECVE) || i32.test(CGS_IA32_NR_EXECVEAT) ||
                                                      i32.test(CGS_IA32_NR_EXIT) || i32.test(CGS_IA32_NR_EXIT_GROUP));
  if (auto r = configure_tcp_state(skel_, cfg.tcp_state); !r) return r;
  if (auto r = configure_udp(skel_, cfg.udp); !r) return r;
  configure_summary(skel_, cfg.counted.any() || cfg.counted_ia32.any(), cfg.durations);
  bpf_program__set_autoload(progs->on_signal_generate, cfg.signal_generate);
  bpf_program__set_autoload(progs->on_signal_deliver, cfg.signal_deliver);
  // close's entry resolves its path only when close is shown (path_moves also
  // serve the file sums, which need no close paths).
  bool close_at_entry = cfg.close_paths && cfg.path_moves.any() && cfg.syscalls.test(CGS_NR_CLOSE);
  if (auto r = configure_file_paths(skel_, cfg.path_moves, cfg.entry_via_sys_enter, cfg.file_modes, close_at_entry); !r)
    return r;

  if (auto r = configure_file_sums(skel_, cfg.file_sums); !r) return r;

  if (int err = trace_bpf__load(skel_); err) return Failure{load_error(-err)};
  if (int err = trace_bpf__attach(skel_); err)
    return fail_errno("attaching the trace programs to their tracepoints", -err);
  if (cfg.udp)
    if (auto r = attach_udp(cfg.cgroup2_mount); !r) return r;

  auto ring = RingReader::open(bpf_map__fd(skel_->maps.events), std::move(on_record_));
  if (!ring) return fail_with(ring.error());
  ring_.emplace(std::move(*ring));
  return {};
}

// The cgroup_skb and sock_release programs see the sockets of the cgroup they
// are attached to and of every cgroup below it: at the root, every socket. The
// links belong to the skeleton, which detaches them when it is destroyed.
Result<void> Tracer::attach_udp(const std::string& cgroup2_mount) {
  UniqueFd root(::open(cgroup2_mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_errno(fmt::format("opening the cgroup v2 root {} for the UDP hooks", cgroup2_mount), errno);
  struct Hook {
    bpf_program* prog;
    bpf_link** link;
  };
  auto* p = &skel_->progs;
  auto* l = &skel_->links;
  for (Hook h : {Hook{p->on_udp_egress, &l->on_udp_egress}, Hook{p->on_udp_ingress, &l->on_udp_ingress},
                 Hook{p->on_udp_release, &l->on_udp_release}}) {
    *h.link = bpf_program__attach_cgroup(h.prog, root.get());
    if (!*h.link)
      return fail_errno(fmt::format("attaching {} to the cgroup v2 root {} (--flows and the udp_peer/udp_close "
                                    "events need it, as root in the host's cgroup namespace; an -e without those "
                                    "two events traces without it)",
                                    bpf_program__name(h.prog), cgroup2_mount),
                        errno);
  }
  return {};
}

Tracer::~Tracer() {
  ring_.reset();  // unmapped before the map goes
  if (skel_) trace_bpf__destroy(skel_);
}

Result<void> Tracer::add_scope_cgroup(uint64_t id, uint32_t level) {
  if (level >= 16) return fail(fmt::format("cgroup {} is nested {} levels deep; at most 15 are supported", id, level));
  cgs_scope_value one{};
  one.present = 1;
  if (bpf_map__update_elem(skel_->maps.scope_cgroups, &id, sizeof(id), &one, sizeof(one), BPF_ANY) != 0)
    return fail_errno(fmt::format("adding cgroup {} to the trace scope", id), errno);
  __atomic_or_fetch(&skel_->bss->scope_level_mask, 1u << level, __ATOMIC_RELEASE);
  // One cgroup is compared directly in the kernel; from the second on, the map
  // (already complete at this point) decides.
  if (++scope_cgroup_count_ == 1) {
    skel_->bss->scope_single_level = level;
    __atomic_store_n(&skel_->bss->scope_single_id, id, __ATOMIC_RELEASE);
  } else {
    __atomic_store_n(&skel_->bss->scope_single_id, 0, __ATOMIC_RELEASE);
  }
  return {};
}

Result<void> Tracer::add_scope_pid(uint32_t tgid) {
  cgs_scope_value one{};
  one.present = 1;
  if (bpf_map__update_elem(skel_->maps.scope_pids, &tgid, sizeof(tgid), &one, sizeof(one), BPF_ANY) != 0)
    return fail_errno(fmt::format("adding pid {} to the trace scope", tgid), errno);
  return {};
}

PathGeneration Tracer::path_generation() const { return read_path_generation(skel_); }

int Tracer::udp_pairs_fd() const {
  return bpf_program__autoload(skel_->progs.on_udp_egress) ? bpf_map__fd(skel_->maps.udp_pairs) : -1;
}

void Tracer::expire_udp_pairs() {
  constexpr auto kEvery = std::chrono::seconds(5);
  constexpr uint64_t kIdleNs = 60'000'000'000ull;
  int fd = udp_pairs_fd();
  auto now = std::chrono::steady_clock::now();
  if (fd < 0 || now < next_udp_expiry_) return;
  next_udp_expiry_ = now + kEvery;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock of bpf_ktime_get_ns
  uint64_t mono = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
  // Keys first, deletions after: a hash map's next key after a deleted one
  // starts the walk again.
  std::vector<cgs_udp_key> idle;
  cgs_udp_key key{}, next{};
  const cgs_udp_key* prev = nullptr;
  for (size_t n = 0; n < (1u << 17) && bpf_map_get_next_key(fd, prev, &next) == 0; n++) {
    key = next;
    prev = &key;
    cgs_udp_count c{};
    if (bpf_map_lookup_elem(fd, &key, &c) == 0 && mono > c.last_ns && mono - c.last_ns >= kIdleNs) idle.push_back(key);
  }
  for (const cgs_udp_key& k : idle) bpf_map_delete_elem(fd, &k);
}

int Tracer::file_sums_fd() const { return skel_->rodata->fsum_on ? bpf_map__fd(skel_->maps.fsums) : -1; }

void Tracer::set_hold_tgid(uint32_t tgid) { __atomic_store_n(&skel_->bss->hold_tgid, tgid, __ATOMIC_RELEASE); }

Result<int> Tracer::poll(int timeout_ms) {
  auto n = ring_->poll(timeout_ms);
  if (!n) return fail_with(n.error());
  return int(*n);
}

std::array<uint64_t, CGS_DROP_NR_REASONS> Tracer::drops() const {
  std::array<uint64_t, CGS_DROP_NR_REASONS> total{};
  int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(ncpu > 0 ? ncpu : 1);
  for (uint32_t reason = 0; reason < CGS_DROP_NR_REASONS; reason++) {
    if (bpf_map__lookup_elem(skel_->maps.drops, &reason, sizeof(reason), per_cpu.data(),
                             per_cpu.size() * sizeof(uint64_t), 0) != 0)
      continue;
    for (uint64_t v : per_cpu) total[reason] += v;
  }
  return total;
}

std::vector<SummaryInput> Tracer::syscall_totals() const {
  std::vector<SummaryInput> out;
  if (bpf_map__max_entries(skel_->maps.sum_stats) < CGS_SUM_MAX_NR) return out;
  int ncpu = libbpf_num_possible_cpus();
  std::vector<cgs_sum_stat> per_cpu(ncpu > 0 ? ncpu : 1);
  for (uint32_t nr = 0; nr < CGS_SUM_MAX_NR; nr++) {
    if (bpf_map__lookup_elem(skel_->maps.sum_stats, &nr, sizeof(nr), per_cpu.data(),
                             per_cpu.size() * sizeof(cgs_sum_stat), 0) != 0)
      continue;
    SummaryInput t{nr};
    for (const cgs_sum_stat& v : per_cpu) {
      t.calls += v.calls;
      t.errors += v.errors;
      t.ns += v.ns;
    }
    if (t.calls) out.push_back(t);
  }
  return out;
}

}  // namespace cgscope::trace
