#include "trace/path_reuse.h"

#include <utility>

namespace cgscope::trace {

void PathReuse::remember(uint32_t pid, int32_t fd, uint64_t ts_ns, uint32_t tid, std::string_view raw) {
  Kept& k = by_pid_[pid][fd];
  std::swap(k.last, k.before);
  Entry& e = k.last;
  e.ts_ns = ts_ns;
  e.tid = tid;
  e.raw.assign(raw);  // in place: the string keeps its capacity
}

const std::string* PathReuse::find(uint32_t pid, int32_t fd, uint64_t ts_ns, uint32_t tid) const {
  auto p = by_pid_.find(pid);
  if (p == by_pid_.end()) return nullptr;
  auto f = p->second.find(fd);
  if (f == p->second.end()) return nullptr;
  for (const Entry* e : {&f->second.last, &f->second.before})
    if (e->ts_ns == ts_ns && e->tid == tid && ts_ns != 0) return &e->raw;
  return nullptr;
}

}  // namespace cgscope::trace
