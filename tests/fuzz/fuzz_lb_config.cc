// libFuzzer target: the lb config parser takes files from users. Any input must
// give a config or an error, never a crash, a hang or an over-deep recursion.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lb/config.h"
#include "lb/planner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = cgscope::lb::parse_config(text, "fuzz.yaml");
  if (cfg) {
    // A valid config must also plan, and re-planning what was planned is empty.
    auto want = cgscope::lb::desired_state(*cfg, {});
    if (want) {
      auto p = cgscope::lb::plan({}, *want);
      cgscope::lb::MapState s;
      for (const auto& op : p.ops) cgscope::lb::apply_op(s, op);
      auto again = cgscope::lb::desired_state(*cfg, s);
      if (!again || !cgscope::lb::plan(s, *again).ops.empty()) __builtin_trap();
    }
  }
  return 0;
}
