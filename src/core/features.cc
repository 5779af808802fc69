#include "core/features.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <span>

#include <bpf/libbpf.h>
#include <fmt/format.h>

namespace cgscope {

Result<void> require_root(std::string_view command) {
  if (geteuid() != 0)
    return fail(fmt::format("{} needs root to load BPF programs: run it as root (or with sudo)", command), EPERM);
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

namespace {

struct Probe {
  const char* what;   // the facility, as a person would look it up
  int major, minor;   // the mainline release that brought it
  bool (*present)();
};

bool has_map(bpf_map_type t) { return libbpf_probe_bpf_map_type(t, nullptr) > 0; }
bool has_helper(bpf_prog_type p, bpf_func_id f) { return libbpf_probe_bpf_helper(p, f, nullptr) > 0; }

// What each job's programs need beyond what BTF-enabled kernels all have.
constexpr Probe kTraceProbes[] = {
    {"BPF ring buffers", 5, 8, [] { return has_map(BPF_MAP_TYPE_RINGBUF); }},
    {"bpf_get_current_task_btf()", 5, 11,
     [] { return has_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf); }},
};
constexpr Probe kLbProbes[] = {
    {"socket-local storage (sk_storage)", 5, 2, [] { return has_map(BPF_MAP_TYPE_SK_STORAGE); }},
    {"bpf_get_netns_cookie() in cgroup socket programs", 5, 7,
     [] { return has_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_netns_cookie); }},
    {"bpf_set_retval() in cgroup programs", 5, 18,
     [] { return has_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_set_retval); }},
};

}  // namespace

Result<void> require_kernel_features(KernelJob job) {
  // proxy's programs are lb's kind (cgroup socket hooks, sk_storage, set_retval).
  std::span<const Probe> probes = job == KernelJob::trace ? std::span<const Probe>(kTraceProbes)
                                                          : std::span<const Probe>(kLbProbes);
  // Probing loads test programs; libbpf's complaints about them are noise here.
  libbpf_print_fn_t old = libbpf_set_print(nullptr);
  std::string missing;
  int need_major = 0, need_minor = 0;
  for (const Probe& p : probes) {
    if (p.present()) continue;
    missing += missing.empty() ? "" : ", ";
    missing += fmt::format("{} (Linux {}.{})", p.what, p.major, p.minor);
    if (p.major > need_major || (p.major == need_major && p.minor > need_minor)) {
      need_major = p.major;
      need_minor = p.minor;
    }
  }
  libbpf_set_print(old);
  if (missing.empty()) return {};
  struct utsname u {};
  ::uname(&u);
  return fail(fmt::format("this kernel ({}) lacks {}: cgscope {} needs Linux {}.{} or newer, or a distribution "
                          "kernel with these backported",
                          u.release, missing,
                          job == KernelJob::trace ? "trace" : job == KernelJob::lb ? "lb" : "proxy", need_major,
                          need_minor),
              ENOTSUP);
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
