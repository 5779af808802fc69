#include "trace/exec_join.h"

namespace cgscope::trace {

std::vector<ExecJoiner::Bytes> ExecJoiner::on_entry(uint32_t pid, std::span<const uint8_t> record) {
  std::vector<Bytes> given_up;
  if (pending_.size() >= max_pending_ && !pending_.count(pid)) {
    given_up.reserve(pending_.size());
    for (auto& [p, bytes] : pending_) given_up.push_back(std::move(bytes));
    pending_.clear();
  }
  pending_[pid].assign(record.begin(), record.end());
  return given_up;
}

std::optional<ExecJoiner::Bytes> ExecJoiner::on_exit(uint32_t pid) {
  auto it = pending_.find(pid);
  if (it == pending_.end()) return std::nullopt;
  Bytes entry = std::move(it->second);
  pending_.erase(it);
  return entry;
}

}  // namespace cgscope::trace
