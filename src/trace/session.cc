#include "trace/session.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/features.h"
#include "core/host_mounts.h"
#include "core/unique_fd.h"
#include "core/command_run.h"
#include "core/small_file.h"
#include "core/stop_signal.h"
#include "trace/arg_limits.h"
#include "trace/containers.h"
#include "trace/decoder.h"
#include "trace/exec_join.h"
#include "trace/event_select.h"
#include "trace/file_snapshot.h"
#include "trace/file_tracker.h"
#include "trace/flow_sink.h"
#include "trace/format.h"
#include "trace/ia32_events.h"
#include "trace/output_file.h"
#include "trace/pid_watch.h"
#include "trace/proc_tree.h"
#include "trace/seccomp_sink.h"
#include "trace/stream_sink.h"
#include "trace/summary_table.h"
#include "trace/schema.h"
#include "trace/trace_stop.h"
#include "trace/tracer.h"

namespace cgscope::trace {

namespace {

constexpr uint32_t kClone = 56, kFork = 57, kVfork = 58, kClone3 = 435;
// Their ia32 numbers, as records carry them.
constexpr uint32_t kIa32Fork = CGS_IA32_NR_BASE + 2, kIa32Clone = CGS_IA32_NR_BASE + 120,
                   kIa32Vfork = CGS_IA32_NR_BASE + 190, kIa32Clone3 = CGS_IA32_NR_BASE + 435;

uint64_t clock_ns(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

// The nesting level of a canonical cgroup path ("/" is 0, "/a/b" is 2).
unsigned cgroup_level(std::string_view rel) {
  unsigned level = 0;
  for (size_t i = 0; i < rel.size(); i++)
    if (rel[i] == '/' && i + 1 < rel.size()) level++;
  return level;
}

class Session {
 public:
  explicit Session(const TraceRequest& req) : req_(req) {}
  int run();

 private:
  Result<void> prepare();
  Result<void> resolve_scope(KernelConfig& cfg);
  void on_record(std::span<const uint8_t> bytes);
  void emit(const RecordView& rec, int64_t ret, bool has_ret, bool selected = true,
            std::span<const NamedValue> extra = {});
  void emit_file_events();
  bool flush_sinks();
  bool output_closed() const;
  void on_exec_record(std::span<const uint8_t> bytes, const RecordView& rec, bool selected);
  // The seccomp profile needs every syscall in scope, whatever -e selects.
  bool every_syscall_wanted() const { return !req_.seccomp_profile.empty(); }
  bool only_failed_in_kernel() const { return req_.only_failed && !every_syscall_wanted(); }
  bool wanted_container(const ContainerInfo* c) const;
  StopReason trace_until_stop();
  void print_summary();
  void write_syscall_summary();
  bool summary_only() const { return req_.summary == SummaryMode::only; }

  const TraceRequest& req_;
  std::string mount_;
  EventSelection selection_;
  std::unique_ptr<ContainerRegistry> registry_;
  // Declared before tracer_, so destroyed after it: programs detach first, then
  // the cgroup (and whatever is left in it) goes.
  std::optional<CommandRun> command_;  // -- CMD
  std::unique_ptr<Tracer> tracer_;
  std::vector<std::pair<uint64_t, unsigned>> scope_cgroups_;
  ExecJoiner exec_join_;
  std::vector<std::unique_ptr<TraceSink>> sinks_;
  StreamSink* stream_ = nullptr;  // the event stream among sinks_, if any (--summary writes there)
  FlowSink* flows_ = nullptr;     // the flow table among sinks_, if any (it reads the UDP counters)
  bool json_ = false;
  std::unique_ptr<FileTracker> files_;  // paths of fds, file_write/file_read
  bool unselected_wanted_ = false;  // a sink wants the events -e did not select
  bool entry_via_sys_enter_ = false;  // no tracefs: see prepare()
  std::optional<PidWatch> pids_;  // -p: the trace ends when they are gone
  std::optional<StopReason> stop_;  // set where the stop is found outside the loop
  uint64_t mono_to_wall_ = 0;
  uint64_t events_ = 0;
  uint64_t malformed_ = 0;
  uint64_t orphans_ = 0;  // execve entries whose exit record never came
};

Result<void> Session::prepare() {
  // Mistakes in the request first: they need no privileges to report.
  // --flows: the TCP transitions and UDP pairs, which the flow table is made of (the CLI refuses -e with it).
  auto sel = parse_event_selection(req_.flows ? std::vector<std::string>{"tcp_state", "udp_peer", "udp_close"}
                                             : req_.events);
  if (!sel) return fail_with(sel.error());
  selection_ = *sel;
  // rt_sigreturn returns into the interrupted code with its syscall number
  // overwritten, and the kernel refuses BPF programs on its entry tracepoint.
  if (std::find(req_.events.begin(), req_.events.end(), "rt_sigreturn") != req_.events.end())
    return fail("rt_sigreturn cannot be traced: it returns with its syscall number gone, and the kernel allows "
                "no BPF program on its entry; trace the signal delivery with -e set:signals instead");
  selection_.syscalls.reset(CGS_NR_RT_SIGRETURN);
  selection_.ia32.reset(CGS_IA32_NR_SIGRETURN).reset(CGS_IA32_NR_RT_SIGRETURN);  // the same, ia32 (and the old one)
  if (!req_.command.empty() && (!req_.cgroups.empty() || req_.container || !req_.pids.empty()))
    return fail("-c, --container and -p choose whom to trace; with -- CMD the scope is CMD and its children. "
                "Use one or the other");
  if (auto r = require_running(req_.pids); !r) return r;
  if (auto r = require_root("cgscope trace"); !r) return r;
  if (auto r = require_btf(); !r) return r;
  if (auto r = require_kernel_features(KernelJob::trace); !r) return r;
  auto mount = ensure_cgroup2(stderr_notice());
  if (!mount) return fail_with(mount.error());
  if (auto tracefs = ensure_tracefs(stderr_notice()); !tracefs) {
    // Still traceable, at a price: say what is missing, what it costs, and the fix.
    entry_via_sys_enter_ = true;
    std::fprintf(stderr,
                 "cgscope: %s. Until then execve and exit are caught at the generic sys_enter hook, which "
                 "makes every syscall of the machine a little slower\n",
                 tracefs.error().message.c_str());
  }
  mount_ = *mount;
  auto host_ns = host_pidns_inum();
  if (!host_ns) return fail_with(host_ns.error());
  registry_ = std::make_unique<ContainerRegistry>(mount_, *host_ns);
  registry_->scan();

  auto out = OutputFile::open(req_.output_file);
  if (!out) return fail_with(out.error());
  bool json = req_.output == OutputFormat::json || (req_.output == OutputFormat::automatic && !out->is_terminal());
  if (req_.flows) {  // the connections instead of the event stream
    auto flows = std::make_unique<FlowSink>(std::move(*out), req_.flow_output, *registry_, mount_);
    flows_ = flows.get();
    sinks_.push_back(std::move(flows));
  } else {
    auto stream = std::make_unique<StreamSink>(std::move(*out), json ? StreamSink::Form::json : StreamSink::Form::table);
    stream_ = stream.get();
    sinks_.push_back(std::move(stream));
  }
  json_ = json;
  if (!req_.seccomp_profile.empty()) {
    auto profile = SeccompSink::open(req_.seccomp_profile);
    if (!profile) return fail_with(profile.error());
    sinks_.push_back(std::move(*profile));
  }
  for (const auto& sink : sinks_) unselected_wanted_ |= sink->wants_unselected();
  mono_to_wall_ = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
  return {};
}

Result<void> Session::resolve_scope(KernelConfig& cfg) {
  // The kernel compares the task's ancestor at the scope cgroup's level, so the
  // level must come from the cgroup's canonical path, not from what was typed.
  auto add = [&](uint64_t id) -> Result<void> {
    auto canon = cgroup_path_of_id(mount_, id);
    if (!canon) return fail_with(canon.error());
    scope_cgroups_.emplace_back(id, cgroup_level(*canon));
    return {};
  };
  for (const std::string& p : req_.cgroups) {
    std::string rel = relative_cgroup_path(mount_, p);
    std::string abs = rel == "/" ? mount_ : mount_ + rel;
    auto id = cgroup_id(abs);
    if (!id)
      return fail(fmt::format("cgroup {} not found under the cgroup v2 mount {} ({}); give a path like "
                              "/system.slice/foo.service",
                              p, mount_, id.error().message));
    if (auto r = add(*id); !r) return r;
  }
  if (req_.container && *req_.container != "all" && *req_.container != "host") {
    auto ids = registry_->cgroups_of(*req_.container);
    if (ids.empty()) {
      auto matches = registry_->container_ids_matching(*req_.container);
      if (matches.size() > 1)
        return fail(fmt::format("'{}' matches {} containers ({}); give more of the id", *req_.container,
                                matches.size(), fmt::join(matches, ", ")));
      return fail(fmt::format("no running container matches '{}'; give a full id or a prefix of 12+ characters "
                              "(--container all traces every container)",
                              *req_.container));
    }
    // Only each container's own cgroup: the kernel matches by ancestor, so its
    // sub-cgroups (present and future) are in scope through it.
    std::vector<std::string> tops;
    for (uint64_t id : ids)
      if (const ContainerInfo* c = registry_->lookup(id);
          c && std::find(tops.begin(), tops.end(), c->cgroup_path) == tops.end())
        tops.push_back(c->cgroup_path);
    for (const std::string& top : tops) {
      auto id = cgroup_id(top == "/" ? mount_ : mount_ + top);
      if (!id) return fail_with("container cgroup " + top, id.error());
      if (auto r = add(*id); !r) return r;
    }
  }
  if (!req_.command.empty()) {
    auto run = CommandRun::make_cgroup(mount_);
    if (!run) return fail_with(run.error());
    command_.emplace(std::move(*run));
    if (auto r = add(command_->cgroup().id()); !r) return r;
  }
  cfg.filter_cgroup = !scope_cgroups_.empty();
  cfg.filter_pid = !req_.pids.empty();
  cfg.follow = req_.follow;
  return {};
}

bool Session::wanted_container(const ContainerInfo* c) const {
  if (!req_.container) return true;
  if (*req_.container == "host") return c == nullptr;
  if (*req_.container == "all") return c != nullptr;
  return c && c->id.rfind(*req_.container, 0) == 0;
}

void Session::emit(const RecordView& rec, int64_t ret, bool has_ret, bool selected,
                   std::span<const NamedValue> extra) {
  if (stop_) return;
  // -x is about syscalls; process and cgroup events have no failure to show.
  if (req_.only_failed && !is_syscall_nr(rec.hdr->nr)) return;
  // -x where the kernel could not apply it (see run()): a call that returned
  // (exit and exit_group never do) and succeeded is not the stream's.
  if (req_.only_failed && has_ret && ret >= 0) selected = false;
  const ContainerInfo* c = registry_->lookup(rec.hdr->cgroup_id);
  if (!wanted_container(c)) return;
  if (rec.hdr->nr < CGS_MAX_SYSCALLS) extra = files_->on_syscall(rec, ret);
  EventView ev{&rec, Schema::get().find(rec.hdr->nr), c, ret, has_ret, rec.hdr->ts_ns + mono_to_wall_, extra};
  for (const auto& sink : sinks_)
    if (selected || sink->wants_unselected()) sink->on_event(ev, selected);
  if (!selected) return;
  events_++;
  if (req_.max_events && events_ >= req_.max_events) stop_ = StopReason::max_events;
}

// file_write/file_read events the last record completed: no kernel record of
// their own, a header FileActivity made (file_activity.h).
void Session::emit_file_events() {
  std::vector<NamedValue> fields;
  for (const FileEvent& fe : files_->ready()) emit(RecordView{&fe.hdr, {}}, 0, true, true, fe.fields(fields));
  files_->ready().clear();
}

bool Session::flush_sinks() {
  bool ok = true;
  for (const auto& sink : sinks_) ok = sink->flush() && ok;
  return ok;
}

bool Session::output_closed() const {
  return std::any_of(sinks_.begin(), sinks_.end(), [](const auto& sink) { return sink->output_closed(); });
}

void Session::on_record(std::span<const uint8_t> bytes) {
  auto decoded = decode_record(bytes);
  if (!decoded) {
    malformed_++;
    return;
  }
  const RecordView& rec = *decoded;
  const cgs_record* h = rec.hdr;
  switch (h->nr) {
    case CGS_EV_PROCESS_FORK:
      registry_->on_process(h->cgroup_id, uint32_t(h->args[2]), uint32_t(h->args[3]));
      break;
    case CGS_EV_PROCESS_EXEC:
      registry_->on_process(h->cgroup_id, uint32_t(h->args[3]), uint32_t(h->args[4]));
      // With -x a successful execve sends no exit record: forget its entry.
      if (only_failed_in_kernel()) exec_join_.forget(h->pid);
      break;
    case CGS_EV_CGROUP_MKDIR:
      if (rec.vars[2].present) registry_->on_cgroup_mkdir(h->args[0], rec.vars[2].str());
      break;
    default:
      break;
  }
  if (!is_syscall_nr(h->nr)) files_->on_lifecycle(rec);
  if (pids_ && !is_syscall_nr(h->nr)) pids_->on_lifecycle(*h);
  if (h->flags & CGS_REC_F_UNSELECTED) return;
  // With a seccomp profile the kernel sends every syscall (see run()); -e
  // decides which of them the stream shows.
  bool selected = !is_syscall_nr(h->nr) || trace::selected(selection_, h->nr);

  switch (h->nr) {
    case CGS_NR_EXECVE:
    case CGS_NR_EXECVEAT:
    case CGS_IA32_NR_BASE + CGS_IA32_NR_EXECVE:
    case CGS_IA32_NR_BASE + CGS_IA32_NR_EXECVEAT:
      on_exec_record(bytes, rec, selected);
      return;
    case CGS_NR_EXIT:
    case CGS_NR_EXIT_GROUP:
    case CGS_IA32_NR_BASE + CGS_IA32_NR_EXIT:
    case CGS_IA32_NR_BASE + CGS_IA32_NR_EXIT_GROUP:
      // Sent at entry: these never return.
      emit(rec, 0, !(h->flags & CGS_REC_F_ENTRY), selected);
      return;
    case kClone:
    case kFork:
    case kIa32Fork:
    case kIa32Clone:
    case kIa32Vfork:
    case kIa32Clone3:
    case kVfork:
    case kClone3:
      // The child's own return from fork: sched_process_fork already says it
      // was born, and one event per syscall means the parent's.
      if (h->ret == 0) return;
      break;
    default:
      break;
  }
  emit(rec, h->ret, true, selected);
}

void Session::on_exec_record(std::span<const uint8_t> bytes, const RecordView& rec, bool selected) {
  const cgs_record* h = rec.hdr;
  if (h->flags & CGS_REC_F_ENTRY) {
    // Entries given up had their exits lost (a full ring): show what we have.
    for (const auto& entry : exec_join_.on_entry(h->pid, bytes.first(h->size))) {
      orphans_++;
      if (auto er = decode_record(entry)) emit(*er, 0, false, selected);
    }
    return;
  }
  auto entry = exec_join_.on_exit(h->pid);
  if (!entry) {
    emit(rec, h->ret, true, selected);  // the entry was lost: at least the result
    return;
  }
  if (auto er = decode_record(*entry)) {
    er->has_duration = rec.has_duration;  // -T: the exit half measured the call
    er->duration_ns = rec.duration_ns;
    // The entry's call decides: an execve that changed the ABI exits numbered
    // as the other ABI's (the kernel renumbers it), which -e may not select.
    emit(*er, h->ret, true, trace::selected(selection_, er->hdr->nr));
  }
}

// --summary/-C: the kernel's per-syscall counters, after the events, in the
// stream's own form.
void Session::write_syscall_summary() {
  if (req_.summary == SummaryMode::off || !stream_ || !tracer_) return;
  auto totals = tracer_->syscall_totals();
  auto rows = summary_rows(totals, [](uint32_t nr) {
    if (is_ia32_nr(nr))  // "ia32:open": the name -e takes and the table shows
      if (const EventInfo* e = find_ia32_event(nr - CGS_IA32_NR_BASE)) return qualified_name(*e);
    const EventDesc* d = Schema::get().find(nr);
    return d ? std::string(d->name) : fmt::format("syscall_{}", nr);
  });
  stream_->append_text(json_ ? format_summary_json(rows) : format_summary_table(rows));
}

void Session::print_summary() {
  auto d = tracer_ ? tracer_->drops() : std::array<uint64_t, CGS_DROP_NR_REASONS>{};
  uint64_t lost = d[CGS_DROP_RINGBUF_FULL] + d[CGS_DROP_SCRATCH] + d[CGS_DROP_ENTRY_LOST] + malformed_ + orphans_;
  // What the reader got: events a closed output never took are not counted as shown.
  uint64_t unwritten = 0;
  for (const auto& sink : sinks_) unwritten = std::max(unwritten, sink->unwritten());
  std::string line = fmt::format("cgscope: {} events, {} lost", events_ - std::min(unwritten, events_), lost);
  if (lost) {
    std::vector<std::string> why;
    if (d[CGS_DROP_RINGBUF_FULL]) why.push_back(fmt::format("ring buffer full: {}", d[CGS_DROP_RINGBUF_FULL]));
    if (d[CGS_DROP_SCRATCH]) why.push_back(fmt::format("too large: {}", d[CGS_DROP_SCRATCH]));
    if (d[CGS_DROP_ENTRY_LOST]) why.push_back(fmt::format("execve entry lost: {}", d[CGS_DROP_ENTRY_LOST]));
    if (malformed_) why.push_back(fmt::format("malformed: {}", malformed_));
    if (orphans_) why.push_back(fmt::format("execve exit lost: {}", orphans_));
    line += fmt::format(" ({})", fmt::join(why, ", "));
    if (d[CGS_DROP_RINGBUF_FULL]) line += "; a larger --buffer-size or a narrower -e keeps up";
  }
  if (d[CGS_DROP_TRUNCATED]) line += fmt::format("; {} values truncated", d[CGS_DROP_TRUNCATED]);
  if (d[CGS_DROP_FAULT]) line += fmt::format("; {} unreadable pointers", d[CGS_DROP_FAULT]);
  if (d[CGS_DROP_UDP_FULL])
    line += fmt::format("; {} udp pairs not counted (the kernel's table of 65,536 was full)", d[CGS_DROP_UDP_FULL]);
  if (unwritten)
    line += fmt::format("; {} not written: {}", unwritten,
                        output_closed() ? "the reader of the output went away" : "the output failed");
  std::fprintf(stderr, "%s\n", line.c_str());
}

int Session::run() {
  install_stop_signal_handlers();
  route_libbpf_logs(req_.verbose);
  auto error = [](const Error& e, int code = 2) {
    std::fprintf(stderr, "cgscope trace: %s\n", e.message.c_str());
    return code;
  };
  if (auto r = prepare(); !r) return error(r.error());
  KernelConfig cfg;
  cfg.syscalls = selection_.syscalls;
  // A seccomp profile needs every syscall: the kernel sends them all, on_record
  // marks those -e did not select, and only sinks that want those get them.
  cfg.ia32_syscalls = selection_.ia32;
  if (every_syscall_wanted()) {
    cfg.syscalls.set().reset(CGS_NR_RT_SIGRETURN);
    cfg.ia32_syscalls.set().reset(CGS_IA32_NR_SIGRETURN).reset(CGS_IA32_NR_RT_SIGRETURN);
  }
  // --summary alone: the kernel counts the selected syscalls and sends no event.
  const EventSelection shown = summary_only() ? EventSelection{} : selection_;
  if (summary_only()) {
    cfg.syscalls.reset();
    cfg.ia32_syscalls.reset();
  }
  // Without -e the summary counts every syscall, as strace -c does.
  if (req_.summary != SummaryMode::off) {
    cfg.counted = selection_.syscalls;
    cfg.counted_ia32 = selection_.ia32;
    if (req_.events.empty()) {
      cfg.counted.set().reset(CGS_NR_RT_SIGRETURN);
      cfg.counted_ia32.set().reset(CGS_IA32_NR_SIGRETURN).reset(CGS_IA32_NR_RT_SIGRETURN);
    }
  }
  cfg.durations = req_.syscall_times;
  FileTracker::Needs needs = FileTracker::needs_of(shown);
  if (only_failed_in_kernel()) needs.reuse_paths = false;
  files_ = std::make_unique<FileTracker>(needs);
  cfg.syscalls |= files_->kernel_syscalls();  // the fd table's calls, shown only if selected
  cfg.path_moves = files_->path_move_syscalls();
  cfg.fd_gone = files_->fd_gone_syscalls();
  cfg.close_paths = needs.close_paths;
  cfg.file_modes = needs.file_write || needs.file_read || needs.reuse_paths;
  // A seccomp profile needs every call's record: no sums in the kernel then.
  cfg.file_sums = files_->kernel_sums(shown.syscalls, !every_syscall_wanted());
  cfg.fork = shown.fork;
  cfg.exec = shown.exec;
  cfg.exit = shown.exit;
  cfg.cgroup_mkdir = shown.cgroup_mkdir;
  cfg.tcp_state = shown.tcp_state;
  cfg.udp = shown.udp_peer || shown.udp_close;
  cfg.cgroup2_mount = mount_;
  cfg.signal_generate = shown.signal_generate;
  cfg.signal_deliver = shown.signal_deliver;
  cfg.self_tgid = getpid();
  // -x with a profile: the profile needs the calls that succeeded too, so the
  // kernel cannot drop them; emit() drops them from the stream instead. That
  // costs nothing more than the sink already does (the kernel sends every call),
  // and refusing -x would take away "the failures, and a profile" in one run.
  cfg.only_failed = only_failed_in_kernel();
  cfg.entry_via_sys_enter = entry_via_sys_enter_;
  cfg.capture_bytes = req_.capture_bytes;
  cfg.capture_envp = req_.capture_envp;
  apply_arg_limits(req_.string_limit, req_.argv_max, cfg);
  cfg.uid = req_.uid;
  cfg.comm = req_.comm;
  cfg.ringbuf_bytes = req_.buffer_bytes;
  if (auto r = resolve_scope(cfg); !r) return error(r.error());

  // The child is forked before the programs load so that it can be held out of
  // the trace until it execs; it is released only once everything is attached.
  if (command_)
    if (auto r = command_->spawn(req_.command); !r) return error(r.error(), 127);
  if (peek_stop_signal()) return 130;

  auto tracer = Tracer::open(cfg, [this](std::span<const uint8_t> b) {
    on_record(b);
    emit_file_events();
  });
  if (!tracer) return error(tracer.error());
  tracer_ = std::move(*tracer);
  files_->set_kernel_sums(tracer_->file_sums_fd());
  if (flows_) flows_->set_udp_pairs(tracer_->udp_pairs_fd());
  for (auto [id, level] : scope_cgroups_)
    if (auto r = tracer_->add_scope_cgroup(id, level); !r) return error(r.error());
  for (pid_t p : req_.pids)
    if (auto r = tracer_->add_scope_pid(uint32_t(p)); !r) return error(r.error());
  // --follow: children started from now on join in the kernel at fork; the ones
  // that already exist are found in /proc (after attach, so none falls between).
  if (!req_.pids.empty()) pids_.emplace(req_.pids, req_.follow);
  if (req_.follow)
    for (pid_t p : descendants_of(req_.pids)) {
      if (auto r = tracer_->add_scope_pid(uint32_t(p)); !r) return error(r.error());
      pids_->add(p);
    }
  if (peek_stop_signal()) return 130;
  // The fds the scope's processes have already, for the names of their closes.
  if (files_->needs().fd_table() && (!scope_cgroups_.empty() || !req_.pids.empty())) {
    std::vector<uint64_t> ids;
    for (auto [id, level] : scope_cgroups_) ids.push_back(id);
    std::vector<pid_t> pids = req_.pids;
    if (command_) pids.push_back(command_->pid());  // held, not in its cgroup yet
    seed_fds(*files_, scope_processes(mount_, ids, pids, req_.follow), tracer_->path_generation());
  }

  if (!summary_only())  // no table header above a table of no events
    for (const auto& sink : sinks_) sink->start();
  if (command_) {
    tracer_->set_hold_tgid(uint32_t(command_->pid()));
    if (auto r = command_->start(); !r) return error(r.error(), 127);
  }

  // Tools and tests wait for this line: from here on, nothing in scope is missed.
  std::fprintf(stderr, "cgscope: tracing %s\n",
               command_ ? fmt::format("{} (pid {})", req_.command[0], command_->pid()).c_str()
               : scope_cgroups_.empty() && req_.pids.empty() ? "the whole machine"
                                                              : "the selected scope");
  std::fflush(stderr);

  StopReason why = trace_until_stop();
  int exit_code = why == StopReason::error ? 2 : 0;
  // Said before the summary, so that the summary is the trace's last word.
  if (!command_)
    if (std::string said = describe_stop(why, req_); !said.empty() && why != StopReason::duration)
      std::fprintf(stderr, "cgscope: %s\n", said.c_str());
  files_->finish();  // files still open when the trace ends
  emit_file_events();
  write_syscall_summary();
  // A sink that failed says so; the exit code stays CMD's (or the trace's own).
  for (const auto& sink : sinks_)
    if (auto r = sink->finish(); !r) error(r.error());
  print_summary();
  tracer_.reset();  // detach before the cgroup (and anything left in it) goes
  // Stopped before CMD ended: detached, CMD goes on (or killed: --on-stop).
  if (command_) {
    int status = end_command(*command_, why, req_);
    exit_code = exit_code ? exit_code : status;
  }
  return exit_code;
}

StopReason Session::trace_until_stop() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(req_.duration);
  while (!stop_) {
    auto n = tracer_->poll(command_ ? 10 : 50);
    if (!n) {
      std::fprintf(stderr, "cgscope trace: %s\n", n.error().message.c_str());
      return StopReason::error;
    }
    if (!flush_sinks()) return output_closed() ? StopReason::output_closed : StopReason::output_failed;
    tracer_->expire_udp_pairs();
    if (int sig = take_stop_signal()) {
      // Without a command: stop. With one: pass the first signal to CMD and keep
      // tracing until it is gone; a second one kills everything in its cgroup.
      if (!command_) return StopReason::signal;
      command_->forward_signal(sig);
    }
    // CMD and every descendant have exited: everything they did is in the ring
    // by now (their exit records were written before wait() could see them).
    if (command_ && command_->done()) {
      (void)tracer_->poll(0);
      return StopReason::command_done;
    }
    // The same for -p: their exit records come before /proc lets them go.
    if (pids_ && pids_->all_gone()) {
      (void)tracer_->poll(0);
      return StopReason::pids_gone;
    }
    if (req_.duration > 0 && std::chrono::steady_clock::now() >= deadline) return StopReason::duration;
  }
  return *stop_;
}

}  // namespace

int run_trace(const TraceRequest& req) {
  Session s(req);
  return s.run();
}

}  // namespace cgscope::trace
