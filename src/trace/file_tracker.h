// The files side of a trace, for Session: turns the file sections the kernel
// adds (file_path.h) into the fields users read (`path` for an fd argument,
// `abs_path` for a path argument, with `_unknown` reasons), keeps the fd table
// (fd_table.h) fed (close() is named from its entry section, the table the
// fallback), and sums file_write/file_read
// (file_activity.h). Session hands it every event in scope, selected by -e or
// only sent for its sake, and emits the file events it makes.
#pragma once

#include <array>
#include <bitset>
#include <span>
#include <string>
#include <vector>

#include "cgscope/abi/trace.h"
#include "trace/arg_value.h"
#include "trace/decoder.h"
#include "trace/fd_table.h"
#include "trace/file_activity.h"
#include "trace/file_path.h"
#include "trace/file_sums.h"
#include "trace/file_syscalls.h"
#include "trace/path_reuse.h"

namespace cgscope::trace {

struct EventSelection;

class FileTracker {
 public:
  struct Needs {
    bool close_paths = false;  // close is shown: the fd table and the path generation
    bool file_write = false, file_read = false;
    // A shown call names fd argument 0's file: later records of it may reuse
    // an earlier one's path (path_reuse.h). Off where the kernel drops the calls
    // that succeed (-x): a close it skipped would not end the slot.
    bool reuse_paths = false;
    bool fd_table() const { return close_paths || file_write || file_read; }
  };
  static Needs needs_of(const EventSelection& sel);
  explicit FileTracker(Needs n) : needs_(n), activity_(n.file_write, n.file_read) {}

  const Needs& needs() const { return needs_; }
  // The syscalls the kernel must send for this besides those -e selected (fed
  // here, not shown), and whether it counts path-moving calls (CGS_WANT_PATHGEN).
  std::bitset<CGS_MAX_SYSCALLS> kernel_syscalls() const;
  std::bitset<CGS_MAX_SYSCALLS> path_move_syscalls() const;
  // The calls that end fds, which the kernel must see (CGS_WANT_FDGONE, no
  // record) to end the slots of reused paths.
  std::bitset<CGS_MAX_SYSCALLS> fd_gone_syscalls() const;
  // The calls whose file_write/file_read sums the kernel may make itself
  // (bpf/lib/trace_fsum.bpf.h): CGS_FSUM_* by syscall, for those not `shown`
  // when `sums` (a seccomp profile needs every record: no sums then), and
  // CGS_FSUM_SHOWN for the shown ones whose path records may reuse.
  std::array<uint8_t, CGS_MAX_SYSCALLS> kernel_sums(const std::bitset<CGS_MAX_SYSCALLS>& shown, bool sums);
  // The kernel's slots of those sums (a bpf map fd), once loaded.
  void set_kernel_sums(int map_fd) { sums_.set_map(map_fd); }

  // An fd a process had when the trace began (file_snapshot.h).
  void seed(uint32_t pid, int fd, FdEntry e) { table_.set(pid, pid, fd, std::move(e)); }

  // One syscall event: its file fields, valid until the next call.
  std::span<const NamedValue> on_syscall(const RecordView& rec, int64_t ret);
  // fork, exec, exit: the tasks and their tables.
  void on_lifecycle(const RecordView& rec);
  // File events completed by the calls so far; the caller empties it.
  std::vector<FileEvent>& ready() { return activity_.ready(); }
  // The end of the trace: files still open become events.
  void finish();

  const FdTable& table() const { return table_; }

 private:
  using Sections = std::array<std::optional<FdPath>, CGS_NARGS>;
  std::string& text();
  void add_null(const FieldNames& n, const char* why);
  void add_path(const FieldNames& n, std::string& path, bool deleted);
  void fd_fields(const FileCall& fc, const RecordView& rec, const Sections& sec);
  void close_field(const RecordView& rec, int64_t ret, const Sections& sec);
  void abs_fields(const FileCall& fc, const RecordView& rec, int64_t ret, const Sections& sec);
  void update_table(const FileCall& fc, const RecordView& rec, int64_t ret, const Sections& sec);
  void learn(const RecordView& rec, int fd, const FdPath& p, Cloexec cloexec);
  void closed(const cgs_record& h, const FdEntry& e, std::string_view why);
  void slot_closed(const cgs_record& h);
  Cloexec new_fd_cloexec(const FileCall& fc, const cgs_record& h) const;
  void count(const std::vector<FileSums::Credit>& credits);
  void reuse_paths(const RecordView& rec, Sections& sec);

  Needs needs_;
  FdTable table_;
  FileActivity activity_;
  FileSums sums_;
  PathReuse reuse_;
  std::bitset<CGS_MAX_SYSCALLS> reused_;  // the calls flagged CGS_FSUM_SHOWN
  std::array<std::string, 16> texts_;  // the strings of the current event's fields
  unsigned used_ = 0;
  std::vector<NamedValue> fields_;
  std::string learnt_;        // the path learn() resolved (its capacity kept between events)
  std::string opened_;        // the absolute path the current open was given ("" if unknown)
  bool opened_trusted_ = false;
  uint64_t last_ts_ = 0;
};

}  // namespace cgscope::trace
