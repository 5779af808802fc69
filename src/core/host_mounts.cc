#include "core/host_mounts.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/mountinfo.h"

namespace cgscope {
namespace {

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

bool fs_is(const std::string& path, unsigned long magic) {
  struct statfs sfs {};
  return ::statfs(path.c_str(), &sfs) == 0 && static_cast<unsigned long>(sfs.f_type) == magic;
}

// What to tell a person whose mount failed: the usual causes of each errno.
std::string mount_hint(int err) {
  switch (err) {
    case EPERM:
      return "It takes root with CAP_SYS_ADMIN; in a container, run it privileged or pass the mount in from the host";
    case EROFS:
    case ENOENT:
      return "The mount point cannot be made (a read-only /sys?); mount it on the host and pass it in (see deploy/)";
    case ENODEV:
      return "This kernel was built without it";
    default:
      return "Mount it by hand and start cgscope again";
  }
}

}  // namespace

MountNotice stderr_notice() {
  return [](const std::string& line) { std::fprintf(stderr, "cgscope: %s\n", line.c_str()); };
}

std::string mount_command(const MountSpec& spec) {
  return fmt::format("mount -t {0} {0} {1}", spec.fstype, spec.target);
}

Result<void> mount_fs(const MountSpec& spec, const MountNotice& notice) {
  int err = 0;
  if (::mkdir(spec.target.c_str(), 0755) != 0 && errno != EEXIST) err = errno;
  if (err == 0 && ::mount(spec.fstype.c_str(), spec.target.c_str(), spec.fstype.c_str(), 0, nullptr) != 0)
    err = errno;
  if (err != 0)
    return fail(fmt::format("{} is not mounted and mounting it failed (`{}`: {}). {}", spec.fstype,
                            mount_command(spec), std::strerror(err), mount_hint(err)),
                err);
  if (notice) notice(fmt::format("mounted {} at {} ({})", spec.fstype, spec.target, spec.why));
  return {};
}

std::string libbpf_tracefs_dir() {
  // libbpf (1.0+) picks the debugfs path whenever it exists, even when tracefs
  // is reachable at the other one; the check must look where libbpf will.
  return exists("/sys/kernel/debug/tracing") ? "/sys/kernel/debug/tracing" : "/sys/kernel/tracing";
}

Result<std::string> ensure_tracefs(const MountNotice& notice) {
  std::string dir = libbpf_tracefs_dir();
  if (exists(dir + "/events")) return dir;
  // A debugfs without tracing under it, or nothing at all: tracefs goes to its
  // own mount point, which is where libbpf looks when the debugfs path is absent.
  MountSpec spec{"tracefs", "/sys/kernel/tracing", "the syscall tracepoints need it; nothing had mounted it"};
  if (dir != spec.target)
    return fail(fmt::format("{} exists but has no events/ (debugfs without tracefs); mount tracefs there with "
                            "`mount -t tracefs tracefs {}`",
                            dir, dir),
                ENOENT);
  if (auto r = mount_fs(spec, notice); !r) return fail_with(r.error());
  if (!exists(dir + "/events"))
    return fail(fmt::format("tracefs mounted at {} has no events/: the kernel has no tracepoint support", dir),
                ENOENT);
  return dir;
}

Result<void> ensure_bpffs(const std::string& dir, const MountNotice& notice) {
  if (fs_is(dir, BPF_FS_MAGIC)) return {};
  MountSpec spec{"bpf", dir, "pinned maps and links live there; nothing had mounted it"};
  return mount_fs(spec, notice);
}

std::string cgroup2_mount_target(std::string_view mountinfo_text) {
  auto entries = parse_mountinfo(mountinfo_text);
  // Unified hosts mount cgroup2 at /sys/fs/cgroup; hybrid ones put a tmpfs of v1
  // hierarchies there and cgroup2 below it, at unified/.
  return is_mount_point(entries, "/sys/fs/cgroup") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
}

Result<std::string> ensure_cgroup2(const MountNotice& notice) {
  auto text = read_mountinfo();
  if (!text) return fail_with("finding the cgroup v2 mount", text.error());
  auto found = find_cgroup2_mount(*text);
  if (found) return found;
  MountSpec spec{"cgroup2", cgroup2_mount_target(*text), "cgscope scopes everything by cgroup v2; nothing had mounted it"};
  if (auto r = mount_fs(spec, notice); !r)
    return fail(r.error().message + " (on a host booted with cgroup v1 only, systemd's "
                                    "systemd.unified_cgroup_hierarchy=1 gives cgroup v2)",
                r.error().code);
  if (!fs_is(spec.target, CGROUP2_SUPER_MAGIC))
    return fail("mounted cgroup2 at " + spec.target + " but it does not read as cgroup2", EINVAL);
  return spec.target;
}

}  // namespace cgscope
