// libFuzzer target: /proc/self/mountinfo and /proc/PID/cgroup parsers on arbitrary
// text. The first input byte picks the parser, so one corpus covers them all.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/cgroup2.h"
#include "core/host_mounts.h"
#include "core/mountinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto m = cgscope::find_cgroup2_mount(text);
      if (m) {
        // An absolute path, without a trailing slash unless it is "/".
        if (m->empty() || (*m)[0] != '/') std::abort();
        if (m->size() > 1 && m->back() == '/') std::abort();
      } else if (m.error().message.empty()) {
        std::abort();
      }
      break;
    }
    case 1: {
      auto p = cgscope::parse_proc_cgroup(text);
      if (p) {
        if (p->empty() || (*p)[0] != '/' || p->find('\n') != std::string::npos) std::abort();
        if (text.find(*p) == std::string_view::npos) std::abort();
      } else if (p.error().message.empty()) {
        std::abort();
      }
      break;
    }
    case 2: {
      // Every entry has an absolute mount point and a type; the target is one of two.
      for (const auto& e : cgscope::parse_mountinfo(text))
        if (e.mount_point.empty() || e.mount_point[0] != '/' || e.fstype.empty()) std::abort();
      std::string t = cgscope::cgroup2_mount_target(text);
      if (t != "/sys/fs/cgroup" && t != "/sys/fs/cgroup/unified") std::abort();
      break;
    }
    default: {
      std::string u = cgscope::unescape_mountinfo_field(text);
      if (u.size() > text.size()) std::abort();  // escapes only ever shrink
      // Without a backslash nothing changes.
      if (text.find('\\') == std::string_view::npos && u != text) std::abort();
      break;
    }
  }
  return 0;
}
