#include "trace/file_activity.h"

#include <algorithm>

namespace cgscope::trace {

std::span<const NamedValue> FileEvent::fields(std::vector<NamedValue>& out) const {
  out.clear();
  out.push_back({"path", ArgValue::text(path)});
  if (deleted) {
    ArgValue one;
    one.kind = ArgValue::Kind::number;
    one.format = ArgFormat::unsigned_dec;
    one.raw = 1;
    out.push_back({"path_deleted", one});
  }
  out.push_back({"closed_by", ArgValue::text(closed_by)});
  return out;
}

void FileActivity::on_transfer(const cgs_record& h, bool write, FileId id, std::string_view path, bool deleted,
                               uint64_t bytes) {
  if (write ? !writes_ : !reads_) return;
  Sum& s = open_[h.pid][Key{id, write}];
  s.last = h;
  s.path.assign(path);
  s.bytes += bytes;
  s.calls++;
  s.deleted = deleted;
}

void FileActivity::on_counted(uint32_t pid, bool write, FileId id, uint64_t bytes, uint64_t calls) {
  auto it = open_.find(pid);
  if (it == open_.end()) return;
  auto s = it->second.find(Key{id, write});
  if (s == it->second.end()) return;  // never: the kernel counts only after a full record
  s->second.bytes += bytes;
  s->second.calls += calls;
}

void FileActivity::emit(const Key& key, const Sum& sum, uint64_t ts_ns, std::string_view why) {
  FileEvent ev;
  ev.hdr = sum.last;
  ev.hdr.ts_ns = std::max<uint64_t>(ts_ns, sum.last.ts_ns);
  ev.hdr.size = sizeof(cgs_record);
  ev.hdr.nr = key.second ? CGS_EV_FILE_WRITE : CGS_EV_FILE_READ;
  ev.hdr.flags = 0;
  ev.hdr.nvar = 0;
  ev.hdr.ret = 0;
  std::fill(std::begin(ev.hdr.args), std::end(ev.hdr.args), 0);
  ev.hdr.args[0] = sum.bytes;
  ev.hdr.args[1] = sum.calls;
  ev.path = sum.path;
  ev.deleted = sum.deleted;
  ev.closed_by = why;
  ready_.push_back(std::move(ev));
}

void FileActivity::on_closed(uint32_t pid, uint32_t dev, uint64_t ino, uint64_t ts_ns, std::string_view why) {
  auto it = open_.find(pid);
  if (it == open_.end()) return;
  for (bool write : {true, false}) {
    auto s = it->second.find(Key{FileId{dev, ino}, write});
    if (s == it->second.end()) continue;
    emit(s->first, s->second, ts_ns, why);
    it->second.erase(s);
  }
  if (it->second.empty()) open_.erase(it);
}

void FileActivity::on_exit(uint32_t pid, uint64_t ts_ns) {
  auto it = open_.find(pid);
  if (it == open_.end()) return;
  for (const auto& [key, sum] : it->second) emit(key, sum, ts_ns, "exit");
  open_.erase(it);
}

void FileActivity::finish(uint64_t ts_ns) {
  std::vector<uint32_t> pids;
  for (const auto& [pid, files] : open_) pids.push_back(pid);
  std::sort(pids.begin(), pids.end());
  for (uint32_t pid : pids)
    for (const auto& [key, sum] : open_[pid]) emit(key, sum, ts_ns, "trace_end");
  open_.clear();
}

}  // namespace cgscope::trace
