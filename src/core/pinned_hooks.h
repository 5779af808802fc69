// BPF programs attached to a cgroup through links pinned in a directory: what lb
// and proxy both do. Pinned links keep a job's hooks in place when no cgscope
// process runs (lb balances on; a proxied cgroup stays fail-closed when its relay
// dies), and a later run swaps its own programs into the same links atomically
// (bpf_link_update: no connect misses the hook).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

struct bpf_object;
struct bpf_program;

namespace cgscope {

// One hook: the program and the name of its link's pin in the job's directory.
struct PinnedHook {
  const char* pin_name;  // "link_connect4"
  bpf_program* prog;
};

// What a pinned link is attached to (nothing, when it is not pinned).
struct PinnedLinkInfo {
  std::string name;
  bool present = false;
  uint64_t cgroup_id = 0;
  uint32_t prog_id = 0;
};

// Makes `dir` and its parents (mode 0700).
Result<void> make_pin_dir(const std::string& dir);

// Gives every map of `obj` (opened, not loaded) its pin path in `dir`, so that
// load reuses the pinned maps or creates and pins them.
Result<void> pin_maps_in(bpf_object* obj, const std::string& dir);

// Attaches each hook to `cgroup_path` and pins its link, or, where the link is
// pinned already, swaps in this program if its tag differs. Every pinned link is
// checked first, so a refusal (one is attached to another cgroup: EEXIST, with
// `reset_command` as the way out) changes nothing; a failure midway detaches the
// links this call made. `notes` gets one line per link attached or swapped.
Result<void> attach_pinned_hooks(const std::string& dir, const std::string& cgroup_path,
                                 std::span<const PinnedHook> hooks, const std::string& reset_command,
                                 std::vector<std::string>* notes);

// The pinned links named `names` under `dir`, present or not, in that order.
std::vector<PinnedLinkInfo> read_pinned_links(const std::string& dir, std::span<const std::string> names);

// Detaches (even while another process holds the link open) and unpins each
// named link under `dir`; missing ones are skipped. Appends the names removed.
Result<void> detach_pinned_links(const std::string& dir, std::span<const std::string> names,
                                 std::vector<std::string>& removed);

}  // namespace cgscope
