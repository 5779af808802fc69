// Replacing pinned maps that another version of cgscope made with another
// definition (a field added to a counter, another size), for the maps whose
// contents the programs can do without: per-socket records, caches, counters.
// Their old pins are moved aside (NAME -> NAME_old: bpffs refuses a '.' in a
// name) so that the object's load makes new maps in their place; once the new
// programs are attached the old pins go, and until then nothing is lost: a
// load or attach that fails puts them back. A map of real state (what the user
// configured) that no longer fits is refused before anything moves.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/result.h"

struct bpf_map;

namespace cgscope {

class PinSwap {
 public:
  // `soft`: the maps that may be replaced; `hard`: the ones that may not (a
  // redefined one fails, naming `reset_command`). Maps without a pin in `dir`
  // are left to load.
  static Result<PinSwap> prepare(const std::string& dir, std::span<bpf_map* const> soft,
                                 std::span<bpf_map* const> hard, const std::string& reset_command);
  PinSwap(PinSwap&& o) noexcept : dir_(std::move(o.dir_)), moved_(std::move(o.moved_)) { o.moved_.clear(); }
  PinSwap& operator=(PinSwap&&) = delete;
  PinSwap(const PinSwap&) = delete;
  ~PinSwap();
  // The new programs use the new maps: the old pins are removed.
  void commit();
  // The names whose pins were moved aside.
  const std::vector<std::string>& replaced() const { return moved_; }

 private:
  PinSwap(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::vector<std::string> moved_;
};

}  // namespace cgscope
