// ioctl(2) requests by name: the terminal and file ones of <asm-generic/ioctls.h>
// that programs issue on every run (TCGETS, TIOCGWINSZ, FIONREAD, FIOCLEX ...).
// Any other request is shown as strace shows it: its _IOC(dir, type, nr, size)
// parts, or plain hex for an old-style number that has none.
#pragma once

#include <cstdint>
#include <string>

namespace cgscope::trace {

// "TCGETS", "_IOC(_IOC_READ, 0x41, 0x99, 0x4)", "0x5499".
void format_ioctl_request(std::string& out, uint64_t request);

}  // namespace cgscope::trace
