// -s and --argv-max into the kernel configuration (arg_limits.h).
#include <gtest/gtest.h>

#include "trace/arg_limits.h"
#include "trace/tracer.h"

namespace cgscope::trace {
namespace {

TEST(ArgLimits, DefaultsLeaveElementsToTheByteLimit) {
  KernelConfig cfg;
  cfg.capture_bytes = 4096;
  apply_arg_limits(std::nullopt, CGS_ARGV_MAX_ELEMS, cfg);
  EXPECT_EQ(cfg.elem_keep, 0u);
  EXPECT_EQ(cfg.argv_elems, 64u);
  EXPECT_EQ(cfg.capture_bytes, 4096u) << "no -s: --capture-buffers as given";
  EXPECT_EQ(arg_limits().elem_keep, 0u);
}

TEST(ArgLimits, StringLimitCutsElementsAndBuffers) {
  KernelConfig cfg;
  cfg.capture_bytes = 4096;
  apply_arg_limits(32, 5, cfg);
  EXPECT_EQ(cfg.elem_keep, 32u);
  EXPECT_EQ(cfg.argv_elems, 5u);
  EXPECT_EQ(cfg.capture_bytes, 32u);
  EXPECT_EQ(arg_limits().elem_keep, 32u) << "the decoder marks what the kernel cut";
  KernelConfig off;  // buffers off stay off
  apply_arg_limits(32, 5, off);
  EXPECT_EQ(off.capture_bytes, 0u);
  apply_arg_limits(std::nullopt, CGS_ARGV_MAX_ELEMS, off);
}

}  // namespace
}  // namespace cgscope::trace
