#include "trace/arg_limits.h"

#include <algorithm>

#include "trace/tracer.h"

namespace cgscope::trace {
namespace {
ArgLimits g_limits;
}  // namespace

const ArgLimits& arg_limits() { return g_limits; }
void set_arg_limits(const ArgLimits& l) { g_limits = l; }

void apply_arg_limits(std::optional<uint32_t> string_limit, uint32_t argv_max, KernelConfig& cfg) {
  ArgLimits l;
  if (string_limit) {
    l.elem_keep = std::clamp<uint32_t>(*string_limit, 1, CGS_STR_KEEP_MAX);
    cfg.capture_bytes = std::min(cfg.capture_bytes, l.elem_keep);
  }
  l.argv_elems = std::clamp<uint32_t>(argv_max, 1, CGS_ARGV_MAX_ELEMS);
  cfg.elem_keep = l.elem_keep;
  cfg.argv_elems = l.argv_elems;
  set_arg_limits(l);
}

}  // namespace cgscope::trace
