// The filesystems cgscope needs of the host, mounted where they are missing.
//
// A host without systemd, a container or a Kubernetes pod often lacks tracefs,
// sometimes bpffs, and rarely cgroup2. cgscope needs nothing set up by hand: where
// one is missing it mounts it at its usual place and says so in one line on
// stderr, as perf and bpftool do. Where it cannot (no CAP_SYS_ADMIN, a read-only
// /sys without the mount point), the error names the mount and the command that
// makes it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cgscope {

// Where a one-line notice of a mount goes (stderr, unless a test says otherwise).
using MountNotice = std::function<void(const std::string&)>;
MountNotice stderr_notice();

// One filesystem that cgscope may mount: what and where, and why it is needed
// (the why ends the notice: "mounted tracefs at /sys/kernel/tracing (<why>)").
struct MountSpec {
  std::string fstype;  // "tracefs", "bpf", "cgroup2"
  std::string target;  // mount point
  std::string why;
};

// The command a person runs to make `spec`'s mount by hand.
std::string mount_command(const MountSpec& spec);

// Mounts `spec` at its target (making the directory if it can). Fails with a
// message that names the mount and the command that makes it.
Result<void> mount_fs(const MountSpec& spec, const MountNotice& notice);

// The tracefs directory that libbpf will use for classic tracepoints: libbpf
// looks at /sys/kernel/debug/tracing when it exists, else /sys/kernel/tracing.
std::string libbpf_tracefs_dir();

// tracefs with its events, where libbpf looks for them; mounted at
// /sys/kernel/tracing if missing. Returns the directory.
Result<std::string> ensure_tracefs(const MountNotice& notice);

// The bpf filesystem at `dir` (normally /sys/fs/bpf), mounted if absent.
Result<void> ensure_bpffs(const std::string& dir, const MountNotice& notice);

// The cgroup v2 mount point, from /proc/self/mountinfo; when there is none,
// cgroup2 is mounted at /sys/fs/cgroup (where nothing is mounted there) or at
// /sys/fs/cgroup/unified (hybrid hosts), and that is returned.
Result<std::string> ensure_cgroup2(const MountNotice& notice);

// The place to mount cgroup2 when mountinfo has none: /sys/fs/cgroup if nothing
// is mounted on it, else /sys/fs/cgroup/unified. Pure: `mountinfo_text` is the
// text of /proc/self/mountinfo.
std::string cgroup2_mount_target(std::string_view mountinfo_text);

}  // namespace cgscope
