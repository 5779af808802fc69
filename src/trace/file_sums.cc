#include "trace/file_sums.h"

#include <climits>
#include <optional>

#include <bpf/bpf.h>

namespace cgscope::trace {

void FileSums::credit(const Key& k, FileId file, uint64_t bytes, uint64_t calls) {
  auto& [b, c] = credited_[k];
  // Counters only grow; a slot made anew (its process gone, the pid reused) starts over.
  if (bytes < b || calls < c) b = c = 0;
  if (calls == c) return;
  out_.push_back(Credit{std::get<0>(k), std::get<2>(k) == 1, file, bytes - b, calls - c});
  b = bytes;
  c = calls;
}

std::vector<FileSums::Credit>& FileSums::on_record(const cgs_record& h) {
  out_.clear();
  Key k{h.pid, int32_t(h.args[5]), uint32_t(h.args[4])};
  known_.insert(k);
  credit(k, FileId{uint32_t(h.args[2]), h.args[3]}, h.args[0], h.args[1]);
  return out_;
}

std::vector<std::pair<cgs_fsum_key, cgs_fsum>> FileSums::slots() const {
  std::vector<std::pair<cgs_fsum_key, cgs_fsum>> found;
  if (map_fd_ < 0) return found;
  cgs_fsum_key k{}, next{};
  const cgs_fsum_key* prev = nullptr;
  while (bpf_map_get_next_key(map_fd_, prev, &next) == 0) {
    k = next;
    prev = &k;
    cgs_fsum v{};
    if (bpf_map_lookup_elem(map_fd_, &k, &v) == 0) found.emplace_back(k, v);
  }
  return found;
}

std::vector<FileSums::Credit>& FileSums::pull(uint32_t pid) {
  out_.clear();
  if (map_fd_ < 0) return out_;
  auto it = known_.lower_bound(Key{pid, INT32_MIN, 0});
  while (it != known_.end() && std::get<0>(*it) == pid) {
    cgs_fsum_key k{pid, std::get<1>(*it), std::get<2>(*it)};
    cgs_fsum v{};
    if (bpf_map_lookup_elem(map_fd_, &k, &v) == 0) {
      credit(*it, FileId{v.dev, v.ino}, v.bytes, v.calls);
      bpf_map_delete_elem(map_fd_, &k);
    }
    credited_.erase(*it);
    it = known_.erase(it);
  }
  return out_;
}

std::vector<FileSums::Credit>& FileSums::pull_all() {
  out_.clear();
  for (const auto& [k, v] : slots()) credit(Key{k.tgid, k.fd, k.dir}, FileId{v.dev, v.ino}, v.bytes, v.calls);
  return out_;
}

}  // namespace cgscope::trace
