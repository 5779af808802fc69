#include "trace/syscall_time.h"

#include <fmt/format.h>

namespace cgscope::trace {

void append_duration_text(std::string& out, uint64_t ns) {
  fmt::format_to(std::back_inserter(out), " <{}.{:06}>", ns / 1000000000u, (ns / 1000u) % 1000000u);
}

}  // namespace cgscope::trace
