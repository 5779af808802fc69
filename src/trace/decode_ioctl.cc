// Values from <sys/ioctl.h>, which is <asm-generic/ioctls.h> on x86_64, so the
// table is that header's, not a copy of its numbers.
#include "trace/decode_ioctl.h"

#include <linux/ioctl.h>
#include <sys/ioctl.h>

#include <array>

#include "trace/named.h"

namespace cgscope::trace {
namespace {

using namespace named;

// TCGETS2 and friends are _IOR/_IOW of struct termios2, which glibc's headers do
// not declare (its termios differs); the struct is 44 bytes on x86_64
// (<asm-generic/termbits.h>: four tcflag_t, c_line, c_cc[19], two speed_t).
constexpr uint64_t kTermios2Size = 44;

constexpr std::array kRequests = {
    NAMED(TCGETS),        NAMED(TCSETS),        NAMED(TCSETSW),      NAMED(TCSETSF),
    NAMED(TCGETA),        NAMED(TCSETA),        NAMED(TCSETAW),      NAMED(TCSETAF),
    NAMED(TCSBRK),        NAMED(TCXONC),        NAMED(TCFLSH),       NAMED(TIOCEXCL),
    NAMED(TIOCNXCL),      NAMED(TIOCSCTTY),     NAMED(TIOCGPGRP),    NAMED(TIOCSPGRP),
    NAMED(TIOCOUTQ),      NAMED(TIOCSTI),       NAMED(TIOCGWINSZ),   NAMED(TIOCSWINSZ),
    NAMED(TIOCMGET),      NAMED(TIOCMBIS),      NAMED(TIOCMBIC),     NAMED(TIOCMSET),
    NAMED(TIOCGSOFTCAR),  NAMED(TIOCSSOFTCAR),  NAMED(FIONREAD),     NAMED(TIOCLINUX),
    NAMED(TIOCCONS),      NAMED(TIOCGSERIAL),   NAMED(TIOCSSERIAL),  NAMED(TIOCPKT),
    NAMED(FIONBIO),       NAMED(TIOCNOTTY),     NAMED(TIOCSETD),     NAMED(TIOCGETD),
    NAMED(TCSBRKP),       NAMED(TIOCSBRK),      NAMED(TIOCCBRK),     NAMED(TIOCGSID),
    Named{_IOC(_IOC_READ, 'T', 0x2A, kTermios2Size), "TCGETS2"},
    Named{_IOC(_IOC_WRITE, 'T', 0x2B, kTermios2Size), "TCSETS2"},
    Named{_IOC(_IOC_WRITE, 'T', 0x2C, kTermios2Size), "TCSETSW2"},
    Named{_IOC(_IOC_WRITE, 'T', 0x2D, kTermios2Size), "TCSETSF2"},
    NAMED(TIOCGRS485),    NAMED(TIOCSRS485),    NAMED(TIOCGPTN),     NAMED(TIOCSPTLCK),
    NAMED(TIOCGDEV),      NAMED(TIOCSIG),       NAMED(TIOCVHANGUP),  NAMED(TIOCGPKT),
    NAMED(TIOCGPTLCK),    NAMED(TIOCGEXCL),     NAMED(TIOCGPTPEER),  NAMED(FIONCLEX),
    NAMED(FIOCLEX),       NAMED(FIOASYNC),      NAMED(TIOCSERCONFIG), NAMED(TIOCSERGWILD),
    NAMED(TIOCSERSWILD),  NAMED(TIOCGLCKTRMIOS), NAMED(TIOCSLCKTRMIOS), NAMED(TIOCSERGSTRUCT),
    NAMED(TIOCSERGETLSR), NAMED(TIOCSERGETMULTI), NAMED(TIOCSERSETMULTI), NAMED(TIOCMIWAIT),
    NAMED(TIOCGICOUNT),   NAMED(FIOQSIZE),
};

constexpr std::array<std::string_view, 4> kDirs = {
    "_IOC_NONE", "_IOC_WRITE", "_IOC_READ", "_IOC_READ|_IOC_WRITE",
};

}  // namespace

void format_ioctl_request(std::string& out, uint64_t request) {
  // The kernel's request is an unsigned int.
  auto req = static_cast<uint32_t>(request);
  if (std::string_view name = find_name(req, kRequests); !name.empty()) {
    out += name;
    return;
  }
  uint32_t dir = _IOC_DIR(req), size = _IOC_SIZE(req);
  if (dir == _IOC_NONE && size == 0) {
    // An old-style request (type and number only) says nothing more than its hex.
    append_hex(out, req);
    return;
  }
  out += "_IOC(";
  out += kDirs[dir & 3];
  out += ", ";
  append_hex(out, _IOC_TYPE(req));
  out += ", ";
  append_hex(out, _IOC_NR(req));
  out += ", ";
  append_hex(out, size);
  out += ')';
}

}  // namespace cgscope::trace
