#include "trace/file_tracker.h"

#include <algorithm>
#include <cerrno>

#include "trace/event_select.h"

namespace cgscope::trace {
namespace {

constexpr uint64_t kFDupfd = 0, kFSetfd = 2, kFDupfdCloexec = 1030, kFdCloexec = 1;
constexpr uint64_t kCloneFiles = 0x400;
constexpr uint64_t kCloseRangeUnshare = 1u << 1, kCloseRangeCloexec = 1u << 2;
constexpr uint64_t kOTmpfile = 020000000;  // __O_TMPFILE: the path names the directory
constexpr uint32_t kNrMmap = 9;
constexpr uint64_t kMapAnonymous = 0x20;

constexpr const char* kUnseenFd = "fd opened before the trace (or received in a way cgscope does not follow)";
constexpr const char* kMoved = "a rename or mount ran since the fd was last seen";
constexpr const char* kNoSection = "not resolved by the kernel side";
constexpr const char* kUntracked = "close paths are tracked only when close is selected";

const FieldNames kClosePath{"path", "path_unknown", "path_deleted"};

// A call that names one file, fd argument 0's, and leaves the fd table as it
// was: what the kernel can give a reused path (write, read, fsync, fstat...).
bool reuses_path(const FileCall& fc) {
  return fc.op == FdOp::none && fc.nfds == 1 && CGS_KIND(fc.kinds[0]) == CGS_ARG_FDPATH;
}

}  // namespace

FileTracker::Needs FileTracker::needs_of(const EventSelection& sel) {
  Needs n;
  n.close_paths = sel.syscalls.test(CGS_NR_CLOSE);
  n.file_write = sel.file_write;
  n.file_read = sel.file_read;
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS && !n.reuse_paths; nr++)
    n.reuse_paths = sel.syscalls.test(nr) && reuses_path(file_call(nr));
  return n;
}

std::bitset<CGS_MAX_SYSCALLS> FileTracker::kernel_syscalls() const {
  std::bitset<CGS_MAX_SYSCALLS> b;
  if (!needs_.fd_table()) return b;
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++)
    if (fd_table_syscall(nr) || (needs_.file_write && writes_files(nr)) || (needs_.file_read && reads_files(nr)))
      b.set(nr);
  return b;
}

std::bitset<CGS_MAX_SYSCALLS> FileTracker::path_move_syscalls() const {
  std::bitset<CGS_MAX_SYSCALLS> b;
  // Sums made in the kernel stand on the generation too (trace_fsum.bpf.h).
  if (!needs_.close_paths && !needs_.file_write && !needs_.file_read && !needs_.reuse_paths) return b;
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++)
    if (file_call(nr).moves_paths) b.set(nr);
  return b;
}

std::bitset<CGS_MAX_SYSCALLS> FileTracker::fd_gone_syscalls() const {
  std::bitset<CGS_MAX_SYSCALLS> b;
  if (!needs_.reuse_paths) return b;
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++) {
    FdOp op = file_call(nr).op;
    if (op == FdOp::close || op == FdOp::dup2 || op == FdOp::close_range) b.set(nr);
  }
  return b;
}

std::array<uint8_t, CGS_MAX_SYSCALLS> FileTracker::kernel_sums(const std::bitset<CGS_MAX_SYSCALLS>& shown, bool sums) {
  std::array<uint8_t, CGS_MAX_SYSCALLS> a{};
  reused_.reset();
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++) {
    const FileCall& fc = file_call(nr);
    if (shown.test(nr)) {
      if (needs_.reuse_paths && reuses_path(fc)) {
        a[nr] = CGS_FSUM_SHOWN;
        reused_.set(nr);
      }
      continue;
    }
    // One fd, argument 0, moving ret bytes one way; a call shown keeps its records.
    if (!sums || fc.op != FdOp::none || fc.nfds != 1 || (fc.written_fd >= 0) == (fc.read_fd >= 0)) continue;
    if (needs_.file_write && fc.written_fd == 0) a[nr] = CGS_FSUM_WRITE;
    if (needs_.file_read && fc.read_fd == 0) a[nr] = CGS_FSUM_READ;
  }
  return a;
}

void FileTracker::count(const std::vector<FileSums::Credit>& credits) {
  for (const FileSums::Credit& c : credits) activity_.on_counted(c.pid, c.write, c.file, c.bytes, c.calls);
}

void FileTracker::finish() {
  count(sums_.pull_all());
  activity_.finish(last_ts_);
}

std::string& FileTracker::text() {
  std::string& t = texts_[std::min<size_t>(used_++, texts_.size() - 1)];
  t.clear();
  return t;
}

void FileTracker::add_null(const FieldNames& n, const char* why) {
  fields_.push_back({n.value, ArgValue{}});
  fields_.push_back({n.unknown, ArgValue::text(why)});
}

void FileTracker::add_path(const FieldNames& n, std::string& path, bool deleted) {
  fields_.push_back({n.value, ArgValue::text(path)});
  if (!deleted) return;
  ArgValue one;
  one.kind = ArgValue::Kind::number;
  one.format = ArgFormat::unsigned_dec;
  one.raw = 1;
  fields_.push_back({n.deleted, one});
}

std::span<const NamedValue> FileTracker::on_syscall(const RecordView& rec, int64_t ret) {
  const cgs_record* h = rec.hdr;
  fields_.clear();
  used_ = 0;
  if (h->nr >= CGS_MAX_SYSCALLS) return {};
  last_ts_ = std::max<uint64_t>(last_ts_, h->ts_ns);
  const FileCall& fc = file_call(h->nr);
  // Most events of a storm (getppid, futex...) have no file part: no sections to parse.
  if (h->nvar == 0 && fc.op == FdOp::none && fc.npaths == 0) return {};
  Sections sec;
  bool any = false;
  for (unsigned i = 0; i < CGS_NARGS; i++) {
    sec[i] = parse_fd_path(rec.vars[i]);
    any |= sec[i].has_value();
  }
  if (!any && fc.op == FdOp::none && fc.npaths == 0) return {};
  if (reused_.test(h->nr)) reuse_paths(rec, sec);
  fd_fields(fc, rec, sec);
  if (fc.op == FdOp::close) close_field(rec, ret, sec);
  abs_fields(fc, rec, ret, sec);
  if (needs_.fd_table()) update_table(fc, rec, ret, sec);
  return fields_;
}

// A reused section gets the path of the record it names; a full one that the
// kernel may have armed a slot for is kept for the records that reuse it.
void FileTracker::reuse_paths(const RecordView& rec, Sections& sec) {
  const cgs_record* h = rec.hdr;
  if (!sec[0] || sec[0]->kind != CGS_ARG_FDPATH) return;
  FdPath& p = *sec[0];
  if (p.flags & CGS_FDPATH_F_REUSED) {
    // Not found (that record was lost, or is no longer kept): fd_path_text says so.
    if (const std::string* raw = reuse_.find(h->pid, p.fd, p.reuse_ts, p.reuse_tid)) {
      p.raw = *raw;
      p.flags &= ~CGS_FDPATH_F_REUSED;
    }
    return;
  }
  if (p.fd < 0 || !p.regular() || (p.flags & CGS_FSUM_UNFIT)) return;
  reuse_.remember(h->pid, p.fd, h->ts_ns, h->tid, p.raw);
  sums_.note(h->pid, p.fd, CGS_FSUM_DIR_SHOWN);  // its slot goes at the exit
}

// `path` (or `<arg>_path`) for each fd argument: the file it refers to at exit.
void FileTracker::fd_fields(const FileCall& fc, const RecordView& rec, const Sections& sec) {
  const cgs_record* h = rec.hdr;
  for (unsigned i = 0; i < CGS_NARGS; i++) {
    if (CGS_KIND(fc.kinds[i]) != CGS_ARG_FDPATH) continue;
    const FieldNames& n = fc.fd_names[i];
    bool anonymous_map = h->nr == kNrMmap && (h->args[3] & kMapAnonymous);
    if (int32_t(h->args[i]) < 0 || anonymous_map) {
      add_null(n, kNotAnFd);
      continue;
    }
    if (!sec[i]) {
      add_null(n, kNoSection);
      continue;
    }
    std::string& s = text();
    if (const char* why = fd_path_text(*sec[i], s)) add_null(n, why);
    else add_path(n, s, sec[i]->deleted());
  }
}

// close's fd is gone by its exit: what its entry resolved (bpf/lib/trace_close.bpf.h)
// or, where that record is missing, what the table had, if nothing moved paths
// since the table learnt it (bpf/lib/trace_fd.bpf.h).
void FileTracker::close_field(const RecordView& rec, int64_t ret, const Sections& sec) {
  const cgs_record* h = rec.hdr;
  int fd = int32_t(h->args[0]);
  if (fd < 0 || ret == -EBADF) return add_null(kClosePath, "fd not open");
  if (!needs_.close_paths) return add_null(kClosePath, kUntracked);
  if (sec[0] && sec[0]->kind == CGS_ARG_FDPATH && sec[0]->fd == fd) {
    std::string& s = text();
    if (const char* why = fd_path_text(*sec[0], s)) return add_null(kClosePath, why);
    return add_path(kClosePath, s, sec[0]->deleted());
  }
  const FdEntry* e = table_.find(h->pid, h->tid, fd);
  if (!e) return add_null(kClosePath, kUnseenFd);
  if (!e->pseudo && (!e->trusted || !sec[0] || e->gen != sec[0]->gen)) return add_null(kClosePath, kMoved);
  std::string& s = text();
  s = e->path;
  add_path(kClosePath, s, e->deleted);
}

// `abs_path` (or `abs_<arg>`) for each path argument: made absolute against the
// base the kernel resolved (the dirfd's directory or the cwd) when relative.
void FileTracker::abs_fields(const FileCall& fc, const RecordView& rec, int64_t ret, const Sections& sec) {
  opened_.clear();
  opened_trusted_ = false;
  for (unsigned k = 0; k < fc.npaths; k++) {
    const PathArg& pa = fc.paths[k];
    const VarSection& str = rec.vars[pa.arg];
    if (!str.present || str.kind != CGS_ARG_STR || str.fault()) {
      add_null(pa.names, "the path argument could not be read");
      continue;
    }
    if (str.truncated()) {
      add_null(pa.names, "the path argument is longer than cgscope reads (4096 bytes)");
      continue;
    }
    std::string_view rel = str.str();
    std::string& out = text();
    bool trusted = true;
    if (!rel.empty() && rel.front() == '/') {
      join_path("", rel, out);
    } else if (!sec[pa.base]) {
      add_null(pa.names, kNoSection);
      continue;
    } else {
      std::string& base = text();
      if (const char* why = fd_path_text(*sec[pa.base], base)) {
        add_null(pa.names, why);
        continue;
      }
      trusted = sec[pa.base]->trusted();
      // The kernel read the cwd at exit: after a chdir, the new one itself.
      if (fc.chdir && ret == 0) out = base;
      else join_path(base, rel, out);
    }
    if (k == 0) {
      opened_ = out;
      opened_trusted_ = trusted;
    }
    add_path(pa.names, out, false);
  }
}

Cloexec FileTracker::new_fd_cloexec(const FileCall& fc, const cgs_record& h) const {
  if (fc.always_cloexec) return Cloexec::yes;
  if (fc.cloexec_unknown) return Cloexec::unknown;
  if (fc.cloexec_arg >= 0 && fc.cloexec_bit) return (h.args[fc.cloexec_arg] & fc.cloexec_bit) ? Cloexec::yes : Cloexec::no;
  return Cloexec::no;
}

void FileTracker::learn(const RecordView& rec, int fd, const FdPath& p, Cloexec cloexec) {
  const cgs_record* h = rec.hdr;
  if (fd < 0) return;
  if (fd_path_text(p, learnt_)) {  // the fd holds something cgscope cannot name
    table_.forget(h->pid, h->tid, fd);
    return;
  }
  FdEntry attrs;  // no path: the table copies learnt_ into its slot
  attrs.gen = p.gen;
  attrs.trusted = p.trusted();
  attrs.pseudo = p.flags & CGS_FDPATH_F_PSEUDO;
  attrs.deleted = p.deleted();
  attrs.regular = p.regular();
  attrs.dev = p.dev;
  attrs.ino = p.ino;
  attrs.cloexec = cloexec;
  table_.set(h->pid, h->tid, fd, learnt_, attrs);
}

// The kernel ended a file_write/file_read slot at a close (or a dup2 onto its
// fd), before that call's own record, which never comes when the filters leave
// the closing thread out (--comm): the fd is closed here, if the table still
// holds that file there. A record that does come finds it closed already.
void FileTracker::slot_closed(const cgs_record& h) {
  int fd = int32_t(h.args[5]);
  const FdEntry* e = table_.find(h.pid, h.tid, fd);
  if (!e || e->dev != uint32_t(h.args[2]) || e->ino != h.args[3]) return;
  if (auto gone = table_.close(h.pid, h.tid, fd)) closed(h, *gone, "close");
}

// `e` left the task's table: if no other fd holds its file, its file event ends.
void FileTracker::closed(const cgs_record& h, const FdEntry& e, std::string_view why) {
  if (activity_.on() && e.ino && !table_.refers_to(h.pid, h.tid, e.dev, e.ino))
    activity_.on_closed(h.pid, e.dev, e.ino, h.ts_ns, why);
}

// What the call did to the task's fd table: fd arguments resolved now, new fds,
// copies, closes; then the bytes it moved.
void FileTracker::update_table(const FileCall& fc, const RecordView& rec, int64_t ret, const Sections& sec) {
  const cgs_record* h = rec.hdr;
  const uint32_t pid = h->pid, tid = h->tid;
  std::optional<FdEntry> replaced;  // what dup2's newfd held before
  if (fc.op == FdOp::dup2 && ret >= 0 && h->args[0] != h->args[1]) replaced = table_.close(pid, tid, int32_t(h->args[1]));
  for (unsigned i = 0; i < CGS_NARGS; i++)
    if (CGS_KIND(fc.kinds[i]) == CGS_ARG_FDPATH && sec[i]) learn(rec, int32_t(h->args[i]), *sec[i], Cloexec::unknown);
  switch (fc.op) {
    case FdOp::open:
      if (ret < 0) break;
      if (opened_.empty() || (fc.cloexec_arg >= 0 && (h->args[fc.cloexec_arg] & kOTmpfile))) {
        table_.forget(pid, tid, int(ret));  // no name that names the new fd's file
        break;
      }
      {
        const std::optional<FdPath>& stamp = sec[CGS_NARGS - 1];
        FdEntry attrs;
        attrs.gen = stamp ? stamp->gen : 0;
        attrs.trusted = opened_trusted_ && stamp && stamp->trusted();
        attrs.cloexec = new_fd_cloexec(fc, *h);
        table_.set(pid, tid, int(ret), opened_, attrs);
      }
      break;
    case FdOp::make:
      if (ret < 0) break;
      for (unsigned i = CGS_NARGS - 2; i < CGS_NARGS; i++)
        if (sec[i] && sec[i]->kind == CGS_ARG_NEWFD) learn(rec, sec[i]->fd, *sec[i], new_fd_cloexec(fc, *h));
      break;
    case FdOp::dup:
      if (ret < 0) break;
      if (sec[0]) learn(rec, int(ret), *sec[0], Cloexec::no);
      else table_.dup(pid, tid, int32_t(h->args[0]), int(ret), Cloexec::no);
      break;
    case FdOp::dup2: {
      if (ret < 0) break;
      Cloexec c = fc.cloexec_arg >= 0 && (h->args[fc.cloexec_arg] & fc.cloexec_bit) ? Cloexec::yes : Cloexec::no;
      if (sec[1]) learn(rec, int32_t(h->args[1]), *sec[1], c);
      else table_.dup(pid, tid, int32_t(h->args[0]), int32_t(h->args[1]), c);
      if (replaced) closed(*h, *replaced, "close");
      break;
    }
    case FdOp::fcntl:
      if ((h->args[1] == kFDupfd || h->args[1] == kFDupfdCloexec) && ret >= 0) {
        Cloexec c = h->args[1] == kFDupfdCloexec ? Cloexec::yes : Cloexec::no;
        if (sec[0]) learn(rec, int(ret), *sec[0], c);
        else table_.dup(pid, tid, int32_t(h->args[0]), int(ret), c);
      } else if (h->args[1] == kFSetfd && ret == 0) {
        table_.set_cloexec(pid, tid, int32_t(h->args[0]), h->args[2] & kFdCloexec);
      }
      break;
    case FdOp::close:
      // Linux releases the fd even when close fails, but for EBADF (there was none).
      if (!activity_.on()) table_.forget(pid, tid, int32_t(h->args[0]));
      else if (auto e = table_.close(pid, tid, int32_t(h->args[0]))) closed(*h, *e, "close");
      break;
    case FdOp::close_range:
      if (ret != 0) break;
      if (h->args[2] & kCloseRangeUnshare) table_.on_unshare(pid, tid);
      for (const FdEntry& e :
           table_.close_range(pid, tid, uint32_t(h->args[0]), uint32_t(h->args[1]), h->args[2] & kCloseRangeCloexec))
        closed(*h, e, "close");
      break;
    case FdOp::unshare:
      if (ret == 0 && (h->args[0] & kCloneFiles)) table_.on_unshare(pid, tid);
      break;
    case FdOp::none:
      break;
  }
  if (!activity_.on() || ret <= 0) return;
  for (int8_t idx : {fc.written_fd, fc.read_fd}) {
    if (idx < 0 || !sec[idx] || !sec[idx]->regular()) continue;
    if (idx == 0 && fc.nfds == 1 && sums_.on()) sums_.note(pid, int32_t(h->args[0]), idx == fc.written_fd ? 1u : 0u);
    std::string& path = text();
    FileId id{sec[idx]->dev, sec[idx]->ino};
    if (!fd_path_text(*sec[idx], path))
      activity_.on_transfer(*h, idx == fc.written_fd, id, path, sec[idx]->deleted(), uint64_t(ret));
    else if (sec[idx]->flags & CGS_FDPATH_F_REUSED)  // its path is not at hand, its file is: the sum goes on
      activity_.on_counted(pid, idx == fc.written_fd, id, uint64_t(ret), 1);
  }
}

void FileTracker::on_lifecycle(const RecordView& rec) {
  const cgs_record* h = rec.hdr;
  last_ts_ = std::max<uint64_t>(last_ts_, h->ts_ns);
  if (h->nr == CGS_EV_PROCESS_EXIT) {
    // Every record of the process came before this one: what its slots hold
    // beyond them belongs to their last files.
    if (sums_.on()) count(sums_.pull(h->pid));
    reuse_.forget(h->pid);
  }
  if (!needs_.fd_table()) return;
  switch (h->nr) {
    case CGS_EV_PROCESS_FORK:
      table_.on_fork(h->pid, h->tid, uint32_t(h->args[0]), uint32_t(h->args[1]), h->args[4] != 0);
      break;
    case CGS_EV_FILE_SUMS:
      count(sums_.on_record(*h));
      if (h->ret == CGS_FSUM_END_CLOSE) slot_closed(*h);
      break;
    case CGS_EV_PROCESS_EXEC:
      for (const FdEntry& e : table_.on_exec(h->pid, uint32_t(h->args[2]))) closed(*h, e, "exec");
      break;
    case CGS_EV_PROCESS_EXIT:
      activity_.on_exit(h->pid, h->ts_ns);
      table_.on_exit(h->pid);
      break;
    default:
      break;
  }
}

}  // namespace cgscope::trace
