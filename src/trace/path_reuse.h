// The paths that later records of the same process and fd reuse: a shown call
// (-e write shows every write) whose file cannot have changed since an earlier
// record of it carries no path of its own, only that record's stamp
// (CGS_FDPATH_F_REUSED, bpf/lib/trace_fsum.bpf.h). This keeps, per (process,
// fd), the paths of the last two full records the kernel may have armed a slot
// for, and answers a stamp only with the path of the record it names: a record
// lost or not yet seen gives no path, never another record's. Two, because two
// threads sending full records of one fd at once may arm the slot in the other
// order than their records reached the ring. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cgscope::trace {

class PathReuse {
 public:
  // A full record (ts_ns, tid) of process `pid` named `raw` (the section's
  // path as the kernel wrote it) for fd.
  void remember(uint32_t pid, int32_t fd, uint64_t ts_ns, uint32_t tid, std::string_view raw);
  // The path of the record (ts_ns, tid) for fd of `pid`, if it is the one kept.
  const std::string* find(uint32_t pid, int32_t fd, uint64_t ts_ns, uint32_t tid) const;
  // The process ended: its fds go.
  void forget(uint32_t pid) { by_pid_.erase(pid); }

  std::size_t processes() const { return by_pid_.size(); }

 private:
  struct Entry {
    uint64_t ts_ns = 0;
    uint32_t tid = 0;
    std::string raw;
  };
  struct Kept {
    Entry last, before;
  };
  std::unordered_map<uint32_t, std::unordered_map<int32_t, Kept>> by_pid_;
};

}  // namespace cgscope::trace
