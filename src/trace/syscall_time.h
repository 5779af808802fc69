// -T: a syscall's time in the kernel, as the table shows it after the return
// value (" <0.000004>": seconds with microseconds, as strace -T prints it).
#pragma once

#include <cstdint>
#include <string>

namespace cgscope::trace {

void append_duration_text(std::string& out, uint64_t ns);

}  // namespace cgscope::trace
