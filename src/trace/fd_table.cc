#include "trace/fd_table.h"

#include <algorithm>
#include <unordered_set>

namespace cgscope::trace {

FdEntry* FdTable::Table::find(int fd) {
  if (fd >= 0 && fd < kDense) return size_t(fd) < used_.size() && used_[fd] ? &dense_[fd] : nullptr;
  auto it = sparse_.find(fd);
  return it == sparse_.end() ? nullptr : &it->second;
}

FdEntry& FdTable::Table::put(int fd) {
  if (fd < 0 || fd >= kDense) return sparse_[fd];
  if (size_t(fd) >= used_.size()) {
    used_.resize(size_t(fd) + 1);
    dense_.resize(size_t(fd) + 1);
  }
  used_[fd] = true;
  return dense_[fd];
}

bool FdTable::Table::erase(int fd, FdEntry* out) {
  if (fd < 0 || fd >= kDense) {
    auto it = sparse_.find(fd);
    if (it == sparse_.end()) return false;
    if (out) *out = std::move(it->second);
    sparse_.erase(it);
    return true;
  }
  if (size_t(fd) >= used_.size() || !used_[fd]) return false;
  used_[fd] = false;
  if (out) *out = dense_[fd];  // a copy: the slot keeps its string's capacity
  return true;
}

template <class Fn>
void FdTable::Table::for_each(Fn&& fn) {
  for (size_t fd = 0; fd < used_.size(); fd++)
    if (used_[fd] && !fn(int(fd), dense_[fd])) used_[fd] = false;
  for (auto it = sparse_.begin(); it != sparse_.end();) it = fn(it->first, it->second) ? std::next(it) : sparse_.erase(it);
}

std::shared_ptr<FdTable::Table>& FdTable::table_of(Pid pid, Tid tid) {
  if (auto it = tasks_.find(tid); it != tasks_.end() && it->second.pid == pid) return it->second.table;
  // A thread not seen yet uses its process's table (the leader's, or another
  // thread's); a process not seen yet gets an empty one.
  std::shared_ptr<Table> t;
  if (auto lead = tasks_.find(pid); lead != tasks_.end() && lead->second.pid == pid) t = lead->second.table;
  if (!t) {
    if (auto th = threads_.find(pid); th != threads_.end())
      for (Tid other : th->second)
        if (auto it = tasks_.find(other); it != tasks_.end() && it->second.pid == pid) t = it->second.table;
  }
  if (!t) t = std::make_shared<Table>();
  auto& task = tasks_[tid];
  task = Task{pid, std::move(t)};
  auto& tids = threads_[pid];
  if (std::find(tids.begin(), tids.end(), tid) == tids.end()) tids.push_back(tid);
  return task.table;
}

const FdTable::Table* FdTable::find_table(Pid pid, Tid tid) const {
  if (auto it = tasks_.find(tid); it != tasks_.end() && it->second.pid == pid) return it->second.table.get();
  if (auto it = tasks_.find(pid); it != tasks_.end() && it->second.pid == pid) return it->second.table.get();
  return nullptr;
}

void FdTable::on_fork(Pid parent_pid, Tid parent_tid, Pid child_pid, Tid child_tid, bool shares_table) {
  // A reused tid: whatever task had it is gone.
  if (auto it = tasks_.find(child_tid); it != tasks_.end()) {
    auto& old = threads_[it->second.pid];
    old.erase(std::remove(old.begin(), old.end(), child_tid), old.end());
    tasks_.erase(it);
  }
  std::shared_ptr<Table> parent = table_of(parent_pid, parent_tid);
  std::shared_ptr<Table> t = shares_table ? parent : std::make_shared<Table>(*parent);
  tasks_[child_tid] = Task{child_pid, std::move(t)};
  threads_[child_pid].push_back(child_tid);
}

void FdTable::forget_threads(Pid pid, Tid keep) {
  auto th = threads_.find(pid);
  if (th == threads_.end()) return;
  for (Tid tid : th->second)
    if (tid != keep)
      if (auto it = tasks_.find(tid); it != tasks_.end() && it->second.pid == pid) tasks_.erase(it);
  th->second.assign(1, keep);
}

std::vector<FdEntry> FdTable::on_exec(Pid pid, Tid old_tid) {
  // The exec'ing thread's table, copied: exec unshares it from other processes
  // (the other threads are gone).
  auto copy = std::make_shared<Table>(*table_of(pid, old_tid));
  std::vector<FdEntry> closed;
  copy->for_each([&](int, FdEntry& e) {
    if (e.cloexec == Cloexec::no) return true;
    closed.push_back(e);
    return false;
  });
  if (old_tid != pid) tasks_.erase(old_tid);
  tasks_[pid] = Task{pid, std::move(copy)};
  threads_[pid].push_back(pid);
  forget_threads(pid, pid);
  return closed;
}

void FdTable::on_exit(Pid pid) {
  if (auto th = threads_.find(pid); th != threads_.end()) {
    for (Tid tid : th->second)
      if (auto it = tasks_.find(tid); it != tasks_.end() && it->second.pid == pid) tasks_.erase(it);
    threads_.erase(th);
  }
  if (auto it = tasks_.find(pid); it != tasks_.end() && it->second.pid == pid) tasks_.erase(it);
}

void FdTable::on_unshare(Pid pid, Tid tid) {
  auto& t = table_of(pid, tid);
  t = std::make_shared<Table>(*t);
}

void FdTable::set(Pid pid, Tid tid, int fd, FdEntry e) { set(pid, tid, fd, e.path, e); }

void FdTable::set(Pid pid, Tid tid, int fd, std::string_view path, const FdEntry& attrs) {
  Table& t = *table_of(pid, tid);
  Cloexec cloexec = attrs.cloexec;
  if (cloexec == Cloexec::unknown)
    if (const FdEntry* old = t.find(fd); old && old->path == path) cloexec = old->cloexec;
  FdEntry& slot = t.put(fd);
  if (&slot.path != &attrs.path) slot.path.assign(path);
  slot.gen = attrs.gen;
  slot.trusted = attrs.trusted;
  slot.pseudo = attrs.pseudo;
  slot.deleted = attrs.deleted;
  slot.regular = attrs.regular;
  slot.dev = attrs.dev;
  slot.ino = attrs.ino;
  slot.cloexec = cloexec;
}

void FdTable::dup(Pid pid, Tid tid, int oldfd, int newfd, Cloexec cloexec) {
  Table& t = *table_of(pid, tid);
  const FdEntry* old = t.find(oldfd);
  if (!old) {
    t.erase(newfd);
    return;
  }
  FdEntry e = *old;
  e.cloexec = cloexec;
  t.put(newfd) = std::move(e);
}

void FdTable::set_cloexec(Pid pid, Tid tid, int fd, bool on) {
  if (FdEntry* e = table_of(pid, tid)->find(fd)) e->cloexec = on ? Cloexec::yes : Cloexec::no;
}

std::optional<FdEntry> FdTable::close(Pid pid, Tid tid, int fd) {
  FdEntry e;
  if (!table_of(pid, tid)->erase(fd, &e)) return std::nullopt;
  return e;
}

std::vector<FdEntry> FdTable::close_range(Pid pid, Tid tid, unsigned first, unsigned last, bool cloexec_only) {
  std::vector<FdEntry> closed;
  table_of(pid, tid)->for_each([&](int fd, FdEntry& e) {
    if (unsigned(fd) < first || unsigned(fd) > last) return true;
    if (cloexec_only) {
      e.cloexec = Cloexec::yes;
      return true;
    }
    closed.push_back(e);
    return false;
  });
  return closed;
}

const FdEntry* FdTable::find(Pid pid, Tid tid, int fd) const {
  const Table* t = find_table(pid, tid);
  return t ? t->find(fd) : nullptr;
}

bool FdTable::refers_to(Pid pid, Tid tid, uint32_t dev, uint64_t ino, int except) const {
  const Table* t = find_table(pid, tid);
  if (!t) return false;
  bool found = false;
  const_cast<Table*>(t)->for_each([&](int fd, FdEntry& e) {
    found |= fd != except && e.ino == ino && e.dev == dev;
    return true;
  });
  return found;
}

std::size_t FdTable::tables() const {
  std::unordered_set<const Table*> seen;
  for (const auto& [tid, task] : tasks_) seen.insert(task.table.get());
  return seen.size();
}

}  // namespace cgscope::trace
