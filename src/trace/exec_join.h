// execve and execveat arrive in two records: the entry (filename, argv, envp,
// captured before the old address space is gone) and the exit (the return value).
// This joins them, by process: a successful exec from a non-leader thread returns
// in the leader's tid, but always in the same thread group.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace cgscope::trace {

class ExecJoiner {
 public:
  using Bytes = std::vector<uint8_t>;

  explicit ExecJoiner(size_t max_pending = 4096) : max_pending_(max_pending) {}

  // Keeps an entry record until its exit. When max_pending entries already
  // wait (their exits were lost), they are given up and returned, to be shown
  // without a return value.
  std::vector<Bytes> on_entry(uint32_t pid, std::span<const uint8_t> record);

  // The entry record of `pid`'s exec, taken out; nullopt if none waits.
  std::optional<Bytes> on_exit(uint32_t pid);

  // Drops `pid`'s entry (with -x a successful exec sends no exit record).
  void forget(uint32_t pid) { pending_.erase(pid); }

  size_t pending() const { return pending_.size(); }

 private:
  size_t max_pending_;
  std::unordered_map<uint32_t, Bytes> pending_;
};

}  // namespace cgscope::trace
