// Which file each fd of each task refers to, as far as the events have shown it:
// the memory close() needs, because by the time the kernel reports a close the fd
// is gone (bpf/lib/trace_fd.bpf.h). Fed events, answers fd -> entry; knows
// nothing of records or the kernel. Pure, single-threaded.
//
// Tables and tasks. A table is what the kernel's files_struct is: the threads of
// a process share one, and so do processes cloned with CLONE_FILES; fork copies
// it; exec keeps it (unshared) without its close-on-exec fds; unshare(CLONE_FILES)
// copies it for the one thread. A thread never seen (it existed before the trace)
// uses its process's table.
//
// Entries are only ever what an event showed. Where the table cannot know (an fd
// inherited before the trace, one passed over a socket, one io_uring made), it
// has no entry rather than a guess: callers then say the path is unknown.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cgscope::trace {

enum class Cloexec : uint8_t { no, yes, unknown };

struct FdEntry {
  std::string path;         // what the fd refers to, as last seen
  uint32_t gen = 0;         // path generation when it was seen
  bool trusted = false;     // nothing moved paths then: comparable with a later gen
  bool pseudo = false;      // a socket, pipe, anon inode: no rename changes its name
  bool deleted = false;     // unlinked when last seen
  bool regular = false;     // a regular file (what file_write and file_read count)
  uint32_t dev = 0;         // which file, when the kernel said (file events): 0 unknown
  uint64_t ino = 0;
  Cloexec cloexec = Cloexec::unknown;
};

class FdTable {
 public:
  using Tid = uint32_t;
  using Pid = uint32_t;

  // A task `child_tid` (of process `child_pid`) was made by `parent_tid`.
  void on_fork(Pid parent_pid, Tid parent_tid, Pid child_pid, Tid child_tid, bool shares_table);
  // Process `pid` exec'd (from thread `old_tid`, which took the pid). Returns
  // the entries the exec closed (close-on-exec, or not known not to be).
  std::vector<FdEntry> on_exec(Pid pid, Tid old_tid);
  // The last thread of `pid` ended: its tasks go, and the tables no one shares.
  void on_exit(Pid pid);
  // unshare(CLONE_FILES): the thread gets a copy of its table.
  void on_unshare(Pid pid, Tid tid);

  // fd now refers to `e` (an open, a file the kernel resolved). A resolved
  // entry of unknown close-on-exec keeps the flag of the entry it refreshes
  // when that was the same file.
  void set(Pid pid, Tid tid, int fd, FdEntry e);
  // The same without a copy of the path: fills the slot in place (its string
  // keeps its capacity: a storm of opens and closes allocates nothing).
  void set(Pid pid, Tid tid, int fd, std::string_view path, const FdEntry& attrs);
  // newfd is a copy of oldfd (dup, dup2, dup3, F_DUPFD): same file, its own flag.
  // Unknown oldfd: newfd is forgotten too (it no longer holds what it held).
  void dup(Pid pid, Tid tid, int oldfd, int newfd, Cloexec cloexec);
  void set_cloexec(Pid pid, Tid tid, int fd, bool on);
  // Removes fd; returns what it referred to, if known.
  std::optional<FdEntry> close(Pid pid, Tid tid, int fd);
  // Removes fd, copying nothing; whether it was known.
  bool forget(Pid pid, Tid tid, int fd) { return table_of(pid, tid)->erase(fd); }
  // close_range(first, last): removes them (returned), or only flags them.
  std::vector<FdEntry> close_range(Pid pid, Tid tid, unsigned first, unsigned last, bool cloexec_only);

  const FdEntry* find(Pid pid, Tid tid, int fd) const;
  // Whether an fd of the task's table other than `except` refers to the file
  // (dev, ino).
  bool refers_to(Pid pid, Tid tid, uint32_t dev, uint64_t ino, int except = -1) const;

  std::size_t tables() const;  // distinct live tables
  std::size_t tasks() const { return tasks_.size(); }

 private:
  // By fd: a vector for the usual small numbers, a map for the rest.
  class Table {
   public:
    FdEntry* find(int fd);
    const FdEntry* find(int fd) const { return const_cast<Table*>(this)->find(fd); }
    FdEntry& put(int fd);  // the slot for fd, used from now on (old contents kept)
    bool erase(int fd, FdEntry* out = nullptr);
    template <class Fn>
    void for_each(Fn&& fn);  // fn(fd, entry) -> bool keep
   private:
    static constexpr int kDense = 1024;
    std::vector<FdEntry> dense_;
    std::vector<bool> used_;
    std::unordered_map<int, FdEntry> sparse_;
  };
  struct Task {
    Pid pid;
    std::shared_ptr<Table> table;
  };
  std::shared_ptr<Table>& table_of(Pid pid, Tid tid);
  const Table* find_table(Pid pid, Tid tid) const;
  void forget_threads(Pid pid, Tid keep);

  std::unordered_map<Tid, Task> tasks_;
  std::unordered_map<Pid, std::vector<Tid>> threads_;  // tids of each process seen
};

}  // namespace cgscope::trace
