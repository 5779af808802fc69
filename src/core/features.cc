#include "core/features.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/magic.h>

namespace cgscope {

Result<void> require_root(std::string_view command) {
  if (geteuid() != 0)
    return fail(fmt::format("{} needs root to load BPF programs: run it with sudo", command), EPERM);
  return {};
}

Result<void> require_btf() {
  struct stat st;
  if (stat("/sys/kernel/btf/vmlinux", &st) != 0)
    return fail(
        "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): cgscope needs a kernel built "
        "with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora and RHEL kernels have it)",
        ENOENT);
  return {};
}

Result<void> ensure_bpffs(const std::string& dir) {
  struct statfs sfs;
  if (statfs(dir.c_str(), &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC) return {};
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno("create " + dir, errno);
  if (mount("bpf", dir.c_str(), "bpf", 0, nullptr) != 0)
    return fail_errno(fmt::format("mount the bpf filesystem at {} (mount -t bpf bpf {})", dir, dir), errno);
  return {};
}

namespace {
bool g_verbose = false;

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !g_verbose) return 0;
  if (level == LIBBPF_INFO && !g_verbose) return 0;
  // The verifier's log is for --verbose; the one-line failure above it stays.
  if (!g_verbose && std::strstr(format, "BEGIN PROG LOAD LOG")) return 0;
  return std::vfprintf(stderr, format, args);  // libbpf's messages carry their own "libbpf: "
}
}  // namespace

void route_libbpf_logs(bool verbose) {
  g_verbose = verbose;
  libbpf_set_print(libbpf_print);
}

}  // namespace cgscope
