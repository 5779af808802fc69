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
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/features.h"
#include "trace/command.h"
#include "trace/containers.h"
#include "trace/decoder.h"
#include "trace/event_select.h"
#include "trace/format.h"
#include "trace/schema.h"
#include "trace/tracer.h"

namespace cgscope::trace {

namespace {

constexpr uint32_t kExecve = 59, kExecveat = 322;
constexpr size_t kFlushBytes = 256 << 10;
constexpr size_t kMaxPendingExecs = 4096;

std::atomic<int> g_stop_signal{0};

void on_stop_signal(int sig) { g_stop_signal.store(sig); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

uint64_t clock_ns(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

Result<uint32_t> own_pidns_inum() {
  struct stat st;
  if (stat("/proc/self/ns/pid", &st) != 0) return fail_errno("stat /proc/self/ns/pid", errno);
  return static_cast<uint32_t>(st.st_ino);
}

// Writes whole buffers to an fd, retrying short writes.
class Sink {
 public:
  explicit Sink(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~Sink() {
    if (owned_) ::close(fd_);
  }
  // false once the reader is gone (EPIPE) or the disk is full: stop tracing.
  bool write(std::string& buf) {
    size_t off = 0;
    while (off < buf.size()) {
      ssize_t n = ::write(fd_, buf.data() + off, buf.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = errno;
        buf.clear();
        return false;
      }
      off += size_t(n);
    }
    buf.clear();
    return true;
  }
  int error() const { return error_; }

 private:
  int fd_;
  bool owned_;
  int error_ = 0;
};

unsigned cgroup_level(std::string_view rel) {
  unsigned level = 0;
  for (size_t i = 0; i < rel.size(); i++)
    if (rel[i] == '/' && i + 1 < rel.size() && rel[i + 1] != '/') level++;
  return level;
}

// "/sys/fs/cgroup/unified/a/b", "/a/b" or "a/b" -> "/a/b" relative to the mount.
std::string relative_cgroup(const std::string& mount, const std::string& path) {
  if (path.rfind(mount, 0) == 0 && (path.size() == mount.size() || path[mount.size()] == '/'))
    return path.size() == mount.size() ? "/" : path.substr(mount.size());
  return path.empty() || path[0] != '/' ? "/" + path : path;
}

class Session {
 public:
  explicit Session(const TraceRequest& req) : req_(req) {}
  int run();

 private:
  Result<void> prepare();
  Result<void> resolve_scope(KernelConfig& cfg);
  void on_record(std::span<const uint8_t> bytes);
  void emit(const RecordView& rec, int64_t ret, bool has_ret);
  bool wanted_container(const ContainerInfo* c) const;
  void flush();
  void print_summary();

  const TraceRequest& req_;
  std::string mount_;
  EventSelection selection_;
  std::unique_ptr<ContainerRegistry> registry_;
  std::unique_ptr<Tracer> tracer_;
  std::optional<ScopedCgroup> run_cgroup_;
  std::vector<std::pair<uint64_t, unsigned>> scope_cgroups_;
  std::unordered_map<uint32_t, std::vector<uint8_t>> pending_exec_;
  std::unique_ptr<Sink> sink_;
  std::string out_;
  bool json_ = true;
  bool stop_ = false;
  uint64_t mono_to_wall_ = 0;
  uint64_t events_ = 0;
  uint64_t malformed_ = 0;
};

Result<void> Session::prepare() {
  if (auto r = require_root("cgscope trace"); !r) return r;
  if (auto r = require_btf(); !r) return r;
  auto mount = cgroup2_mount();
  if (!mount) return fail_with(mount.error());
  mount_ = *mount;
  auto sel = parse_event_selection(req_.events);
  if (!sel) return fail_with(sel.error());
  selection_ = *sel;
  auto host_ns = own_pidns_inum();
  if (!host_ns) return fail_with(host_ns.error());
  registry_ = std::make_unique<ContainerRegistry>(mount_, *host_ns);
  registry_->scan();

  int fd = STDOUT_FILENO;
  bool owned = false;
  if (!req_.output_file.empty()) {
    fd = ::open(req_.output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail_errno("opening output file " + req_.output_file, errno);
    owned = true;
  }
  sink_ = std::make_unique<Sink>(fd, owned);
  json_ = req_.output == OutputFormat::json ||
          (req_.output == OutputFormat::automatic && !(req_.output_file.empty() && isatty(STDOUT_FILENO)));
  mono_to_wall_ = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
  return {};
}

Result<void> Session::resolve_scope(KernelConfig& cfg) {
  for (const std::string& p : req_.cgroups) {
    std::string rel = relative_cgroup(mount_, p);
    std::string abs = rel == "/" ? mount_ : mount_ + rel;
    auto id = cgroup_id(abs);
    if (!id)
      return fail(fmt::format("cgroup {} not found under the cgroup v2 mount {} ({}); give a path like "
                              "/system.slice/foo.service",
                              p, mount_, id.error().message));
    scope_cgroups_.emplace_back(*id, cgroup_level(rel));
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
    for (uint64_t id : ids) {
      auto rel = cgroup_path_of_id(mount_, id);
      if (rel) scope_cgroups_.emplace_back(id, cgroup_level(*rel));
    }
  }
  if (!req_.command.empty()) {
    auto cg = ScopedCgroup::create(mount_, fmt::format("cgscope-run-{}", getpid()));
    if (!cg) return fail_with("creating a cgroup for the command", cg.error());
    run_cgroup_.emplace(std::move(*cg));
    scope_cgroups_.emplace_back(run_cgroup_->id(), cgroup_level(relative_cgroup(mount_, run_cgroup_->path())));
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

void Session::emit(const RecordView& rec, int64_t ret, bool has_ret) {
  if (stop_) return;
  const ContainerInfo* c = registry_->lookup(rec.hdr->cgroup_id);
  if (!wanted_container(c)) return;
  EventView ev{&rec, Schema::get().find(rec.hdr->nr), c, ret, has_ret, rec.hdr->ts_ns + mono_to_wall_};
  if (json_) append_json(out_, ev);
  else append_table_row(out_, ev);
  events_++;
  if (req_.max_events && events_ >= req_.max_events) stop_ = true;
  if (out_.size() >= kFlushBytes) flush();
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
      if (req_.only_failed) pending_exec_.erase(h->pid);
      break;
    case CGS_EV_CGROUP_MKDIR:
      if (rec.vars[2].present) registry_->on_cgroup_mkdir(h->args[0], rec.vars[2].str());
      break;
    default:
      break;
  }
  if (h->flags & CGS_REC_F_UNSELECTED) return;

  if (h->nr == kExecve || h->nr == kExecveat) {
    if (h->flags & CGS_REC_F_ENTRY) {
      if (pending_exec_.size() >= kMaxPendingExecs) pending_exec_.clear();  // exits lost: do not grow forever
      pending_exec_[h->tid].assign(bytes.begin(), bytes.begin() + h->size);
      return;
    }
    // The exit: join it with its entry. A successful exec from a non-leader thread
    // returns in the leader's tid, so fall back to any entry of the same process.
    auto it = pending_exec_.find(h->tid);
    if (it == pending_exec_.end())
      for (auto i = pending_exec_.begin(); i != pending_exec_.end(); ++i)
        if (reinterpret_cast<const cgs_record*>(i->second.data())->pid == h->pid) {
          it = i;
          break;
        }
    if (it != pending_exec_.end()) {
      std::vector<uint8_t> entry = std::move(it->second);
      pending_exec_.erase(it);
      auto er = decode_record(entry);
      if (er) {
        emit(*er, h->ret, true);
        return;
      }
    }
  }
  emit(rec, h->ret, true);
}

void Session::flush() {
  if (out_.empty()) return;
  if (!sink_->write(out_)) stop_ = true;
}

void Session::print_summary() {
  auto d = tracer_ ? tracer_->drops() : std::array<uint64_t, CGS_DROP_NR_REASONS>{};
  uint64_t lost = d[CGS_DROP_RINGBUF_FULL] + d[CGS_DROP_SCRATCH] + d[CGS_DROP_ENTRY_LOST] + malformed_;
  std::string line = fmt::format("cgscope: {} events, {} lost", events_, lost);
  if (lost) {
    std::vector<std::string> why;
    if (d[CGS_DROP_RINGBUF_FULL]) why.push_back(fmt::format("ring buffer full: {}", d[CGS_DROP_RINGBUF_FULL]));
    if (d[CGS_DROP_SCRATCH]) why.push_back(fmt::format("too large: {}", d[CGS_DROP_SCRATCH]));
    if (d[CGS_DROP_ENTRY_LOST]) why.push_back(fmt::format("execve entry lost: {}", d[CGS_DROP_ENTRY_LOST]));
    if (malformed_) why.push_back(fmt::format("malformed: {}", malformed_));
    line += fmt::format(" ({})", fmt::join(why, ", "));
    if (d[CGS_DROP_RINGBUF_FULL]) line += "; a larger --buffer-size or a narrower -e keeps up";
  }
  if (d[CGS_DROP_TRUNCATED]) line += fmt::format("; {} values truncated", d[CGS_DROP_TRUNCATED]);
  if (d[CGS_DROP_FAULT]) line += fmt::format("; {} unreadable pointers", d[CGS_DROP_FAULT]);
  std::fprintf(stderr, "%s\n", line.c_str());
}

int Session::run() {
  route_libbpf_logs(req_.verbose);
  if (auto r = prepare(); !r) {
    std::fprintf(stderr, "cgscope trace: %s\n", r.error().message.c_str());
    return 2;
  }
  KernelConfig cfg;
  cfg.syscalls = selection_.syscalls;
  cfg.fork = selection_.fork;
  cfg.exec = selection_.exec;
  cfg.exit = selection_.exit;
  cfg.cgroup_mkdir = selection_.cgroup_mkdir;
  cfg.self_tgid = getpid();
  cfg.only_failed = req_.only_failed;
  cfg.capture_bytes = req_.capture_bytes;
  cfg.capture_envp = req_.capture_envp;
  cfg.uid = req_.uid;
  cfg.comm = req_.comm;
  cfg.ringbuf_bytes = req_.buffer_bytes;
  if (auto r = resolve_scope(cfg); !r) {
    std::fprintf(stderr, "cgscope trace: %s\n", r.error().message.c_str());
    return 2;
  }

  // The child is forked before the programs load so that it can be held out of
  // the trace until it execs; it is released only once everything is attached.
  std::optional<HeldChild> child;
  if (!req_.command.empty()) {
    auto c = HeldChild::spawn(req_.command);
    if (!c) {
      std::fprintf(stderr, "cgscope trace: %s\n", c.error().message.c_str());
      return 2;
    }
    child.emplace(std::move(*c));
  }

  auto tracer = Tracer::open(cfg, [this](std::span<const uint8_t> b) { on_record(b); });
  if (!tracer) {
    std::fprintf(stderr, "cgscope trace: %s\n", tracer.error().message.c_str());
    return 2;
  }
  tracer_ = std::move(*tracer);
  for (auto [id, level] : scope_cgroups_)
    if (auto r = tracer_->add_scope_cgroup(id, level); !r) {
      std::fprintf(stderr, "cgscope trace: %s\n", r.error().message.c_str());
      return 2;
    }
  for (pid_t p : req_.pids)
    if (auto r = tracer_->add_scope_pid(uint32_t(p)); !r) {
      std::fprintf(stderr, "cgscope trace: %s\n", r.error().message.c_str());
      return 2;
    }

  install_signal_handlers();
  if (!json_) append_table_header(out_);
  int exit_code = 0;
  if (child) {
    tracer_->set_hold_tgid(uint32_t(child->pid()));
    if (auto r = run_cgroup_->add_pid(child->pid()); !r) {
      std::fprintf(stderr, "cgscope trace: %s\n", r.error().message.c_str());
      return 2;
    }
    if (auto r = child->release(); !r) {
      std::fprintf(stderr, "cgscope trace: %s\n", r.error().message.c_str());
      exit_code = 127;
      stop_ = true;
    }
  }

  // Tools and tests wait for this line: from here on, nothing in scope is missed.
  std::fprintf(stderr, "cgscope: tracing %s\n",
               child ? fmt::format("{} (pid {})", req_.command[0], child->pid()).c_str()
               : scope_cgroups_.empty() && req_.pids.empty() ? "the whole machine"
                                                              : "the selected scope");
  std::fflush(stderr);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(req_.duration);
  bool forwarded = false;
  while (!stop_) {
    auto n = tracer_->poll(child ? 10 : 50);
    if (!n) {
      std::fprintf(stderr, "cgscope trace: %s\n", n.error().message.c_str());
      exit_code = 2;
      break;
    }
    flush();
    if (int sig = g_stop_signal.load()) {
      // With a command, pass the signal on and keep tracing until it ends.
      if (!child) break;
      if (!forwarded) child->signal(sig);
      forwarded = true;
    }
    if (child) {
      if (auto code = child->try_wait()) {
        // Everything CMD did is in the ring by now: its exit record was written
        // before the kernel let wait() see it.
        exit_code = *code;
        (void)tracer_->poll(0);
        break;
      }
    }
    if (req_.duration > 0 && std::chrono::steady_clock::now() >= deadline) break;
  }
  flush();
  if (sink_->error() && sink_->error() != EPIPE)
    std::fprintf(stderr, "cgscope trace: writing events: %s\n", std::strerror(sink_->error()));
  print_summary();
  tracer_.reset();  // detach before the cgroup (and anything left in it) goes
  return exit_code;
}

}  // namespace

int run_trace(const TraceRequest& req) {
  Session s(req);
  return s.run();
}

}  // namespace cgscope::trace
