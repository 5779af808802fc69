#include "trace/file_sums.h"

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
  credit(Key{h.pid, int32_t(h.args[5]), uint32_t(h.args[4])}, FileId{uint32_t(h.args[2]), h.args[3]}, h.args[0],
         h.args[1]);
  return out_;
}

std::vector<std::pair<cgs_fsum_key, cgs_fsum>> FileSums::slots(std::optional<uint32_t> pid) const {
  std::vector<std::pair<cgs_fsum_key, cgs_fsum>> found;
  if (map_fd_ < 0) return found;
  cgs_fsum_key k{}, next{};
  const cgs_fsum_key* prev = nullptr;
  while (bpf_map_get_next_key(map_fd_, prev, &next) == 0) {
    k = next;
    prev = &k;
    cgs_fsum v{};
    if ((!pid || k.tgid == *pid) && bpf_map_lookup_elem(map_fd_, &k, &v) == 0) found.emplace_back(k, v);
  }
  return found;
}

std::vector<FileSums::Credit>& FileSums::pull(uint32_t pid) {
  out_.clear();
  for (const auto& [k, v] : slots(pid)) {
    credit(Key{k.tgid, k.fd, k.dir}, FileId{v.dev, v.ino}, v.bytes, v.calls);
    bpf_map_delete_elem(map_fd_, &k);
    credited_.erase(Key{k.tgid, k.fd, k.dir});
  }
  return out_;
}

std::vector<FileSums::Credit>& FileSums::pull_all() {
  out_.clear();
  for (const auto& [k, v] : slots(std::nullopt)) credit(Key{k.tgid, k.fd, k.dir}, FileId{v.dev, v.ino}, v.bytes, v.calls);
  return out_;
}

}  // namespace cgscope::trace
