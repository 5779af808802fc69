// file_write/file_read sums the kernel made (bpf/lib/trace_fsum.bpf.h): its
// slots, one per (process, fd, direction), count the calls that sent no record
// of their own. A slot's counters only grow; this credits what was not credited
// yet, to the file the slot stood for, from a CGS_EV_FILE_SUMS record or from
// the slot itself, read only where no record of the process can still be on
// its way (its exit, the end of the trace): a slot read earlier may be ahead of
// the records, and credit the wrong file or one not named yet.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "cgscope/abi/trace.h"
#include "trace/file_activity.h"

namespace cgscope::trace {

class FileSums {
 public:
  struct Credit {
    uint32_t pid = 0;
    bool write = false;
    FileId file;
    uint64_t bytes = 0, calls = 0;
  };

  // The kernel's slot map (bpf_map fd); -1: the sums are made in user space only.
  void set_map(int fd) { map_fd_ = fd; }
  bool on() const { return map_fd_ >= 0; }

  // A full record of a summed call of (pid, fd): the kernel may have armed a
  // slot for it, which pull(pid) then reads. Only slots named this way are read
  // at exit (a walk of the whole map there cost two syscalls per slot of every
  // process at each exit); one whose record was lost (ring full) is read at the end.
  // `dir` as in cgs_fsum_key (a slot of reused paths, CGS_FSUM_DIR_SHOWN, holds
  // no counts: reading it only removes it).
  void note(uint32_t pid, int32_t fd, uint32_t dir) { known_.insert(Key{pid, fd, dir}); }
  // What a CGS_EV_FILE_SUMS record adds (nothing when all of it was credited).
  std::vector<Credit>& on_record(const cgs_record& h);
  // What the slots of `pid` hold beyond what was credited, at its exit: its
  // slots are removed, here and in the kernel.
  std::vector<Credit>& pull(uint32_t pid);
  // Every slot: the trace ends.
  std::vector<Credit>& pull_all();

 private:
  using Key = std::tuple<uint32_t, int32_t, uint32_t>;  // tgid, fd, dir
  void credit(const Key& k, FileId file, uint64_t bytes, uint64_t calls);
  std::vector<std::pair<cgs_fsum_key, cgs_fsum>> slots() const;

  int map_fd_ = -1;
  std::map<Key, std::pair<uint64_t, uint64_t>> credited_;  // bytes, calls
  std::set<Key> known_;                                      // slots the kernel may hold
  std::vector<Credit> out_;
};

}  // namespace cgscope::trace
