// libFuzzer target: the lb config parser takes files from users. Any input must
// give a config or an error, never a crash, a hang or an over-deep recursion.
// A valid config must also plan: from nothing, and (with small map capacities,
// so that the reordering of lb/schedule.h runs too) from the state of another
// config, in an order that keeps every step consistent and within the
// capacities, and ends where re-planning writes nothing.
//
// The input is one file, or two separated by a NUL byte: the first is applied,
// then the second from its state. (Both come from the input, not from earlier
// runs, so that a reproducer reproduces.)
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <string_view>

#include "lb/config.h"
#include "lb/planner.h"
#include "lb/schedule.h"

using namespace cgscope::lb;

namespace {

// From `from` to `cfg`'s state within `cap`; the state reached, or `from` when refused.
MapState step(const MapState& from, const Config& cfg, const Capacity& cap) {
  auto want = desired_state(cfg, from);
  if (!want) return from;
  auto p = plan_within(from, *want, cap);
  if (!p) return from;  // a change no order fits: refused, nothing written
  MapState s = from;
  for (const Op& op : p->ops) {
    apply_op(s, op);
    if (!consistent(s) || entry_counts(s)[static_cast<int>(op.map)] > cap.of(op.map)) __builtin_trap();
  }
  auto again = desired_state(cfg, s);
  if (!again || !plan(s, *again).ops.empty()) __builtin_trap();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const Capacity small{12, 6, 24, 16, 6};
  MapState state;
  for (size_t at = 0; at <= text.size();) {
    size_t end = std::min(text.find('\0', at), text.size());
    auto cfg = parse_config(text.substr(at, end - at), "fuzz.yaml");
    at = end + 1;
    if (!cfg) continue;
    (void)step({}, *cfg, Capacity{});
    if (cfg->services.size() <= small.services) state = step(state, *cfg, small);
  }
  return 0;
}
