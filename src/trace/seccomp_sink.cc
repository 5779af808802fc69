#include "trace/seccomp_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "core/unique_fd.h"
#include "trace/ia32_events.h"
#include "trace/schema.h"
#include "trace/seccomp_profile.h"

namespace cgscope::trace {

namespace {

// Allowed in every profile, whatever the trace saw:
//  - rt_sigreturn: every return from a signal handler makes it, and the trace
//    cannot see it (session.cc: it returns with its number gone, and the kernel
//    allows no BPF program on its entry). Denied, the first handled signal
//    (a shell's SIGCHLD, Go's preemption signal) crashes the program.
//  - restart_syscall: the kernel has a program make it to resume a sleep
//    (nanosleep, poll, ...) that a handled signal interrupted: whether a run
//    makes it is a matter of timing, which one traced run cannot show.
constexpr std::string_view kAlwaysAllowed[] = {"rt_sigreturn", "restart_syscall"};

std::string directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

// A temporary file next to the target, removed unless it was renamed over it.
struct TempFile {
  std::string path;
  UniqueFd fd;
  bool renamed = false;
  ~TempFile() {
    if (!path.empty() && !renamed) ::unlink(path.c_str());
  }
};

// Writes `text` to a temporary file in the same directory (so that rename is
// atomic: same file system), flushes it to disk, then renames it over `path`.
Result<void> write_atomically(const std::string& path, std::string_view text) {
  std::string base = std::filesystem::path(path).filename().string();
  TempFile tmp{directory_of(path) + "/." + base + ".XXXXXX", {}};
  tmp.fd.reset(::mkstemp(tmp.path.data()));
  if (!tmp.fd) {
    int e = errno;
    tmp.path.clear();
    return fail_errno("creating a temporary file next to " + path, e);
  }
  // mkstemp makes it 0600; a profile is no secret, and docker's client reads it.
  if (::fchmod(tmp.fd.get(), 0644) != 0) return fail_errno("chmod " + tmp.path, errno);
  while (!text.empty()) {
    ssize_t n = ::write(tmp.fd.get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("writing " + tmp.path, errno);
    text.remove_prefix(size_t(n));
  }
  if (::fsync(tmp.fd.get()) != 0) return fail_errno("writing " + tmp.path, errno);
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    return fail_errno(fmt::format("renaming {} to {}", tmp.path, path), errno);
  tmp.renamed = true;
  return {};
}

}  // namespace

Result<std::unique_ptr<SeccompSink>> SeccompSink::open(const std::string& path) {
  auto what = [&](std::string_view why) { return fmt::format("--seccomp-profile {}: {}", path, why); };
  if (path.empty() || path.back() == '/') return fail(what("give a file name, not a directory"));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return fail(what("is a directory; give a file name"));
  std::string dir = directory_of(path);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return fail(what(fmt::format("cannot write in {} ({}): the profile is written there at the end of the trace",
                                 dir, std::strerror(errno))),
                errno);
  return std::unique_ptr<SeccompSink>(new SeccompSink(path));
}

// ia32 calls come with their own record numbers (ia32_events.h): libseccomp's
// SCMP_ARCH_X86, named from the ia32 table.
SeccompSink::Arch SeccompSink::arch_of(const EventView& ev) {
  return is_ia32_nr(ev.rec->hdr->nr) ? kX86 : kX86_64;
}

void SeccompSink::on_event(const EventView& ev, bool) {
  uint32_t nr = ev.rec->hdr->nr;
  if (nr < CGS_MAX_SYSCALLS) seen_[kX86_64].set(nr);
  if (is_ia32_nr(nr)) seen_[arch_of(ev)].set(nr - CGS_IA32_NR_BASE);
}

Result<void> SeccompSink::finish() {
  SyscallUses used;
  std::vector<std::string> unnamed;
  for (int arch = 0; arch < kArchCount; arch++) {
    if (seen_[arch].none()) continue;
    std::string arch_name(arch == kX86 ? kScmpArchX86 : kScmpArchX86_64);
    uint32_t base = arch == kX86 ? CGS_IA32_NR_BASE : 0;
    for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++) {
      if (!seen_[arch].test(nr)) continue;
      if (const EventDesc* d = Schema::get().find(base + nr)) used.emplace(arch_name, std::string(d->name));
      else unnamed.push_back((arch == kX86 ? "ia32:" : "") + std::to_string(nr));
    }
    for (std::string_view name : kAlwaysAllowed) used.emplace(arch_name, std::string(name));
    // ia32 has the older sigreturn too, for handlers installed without SA_RESTORER's rt frame.
    if (arch == kX86) used.emplace(arch_name, "sigreturn");
  }
  if (auto r = write_atomically(path_, seccomp_profile_json(used)); !r)
    return fail_with("writing the seccomp profile", r.error());
  if (used.empty())
    std::fprintf(stderr, "cgscope: wrote the seccomp profile %s: no syscall was seen, so it allows none\n",
                 path_.c_str());
  else
    std::fprintf(stderr, "cgscope: wrote the seccomp profile %s: %zu syscalls allowed (x86_64%s), every other "
                 "one fails with EPERM\n", path_.c_str(), used.size(), seen_[kX86].any() ? " and ia32" : "");
  if (!unnamed.empty())
    std::fprintf(stderr, "cgscope: syscalls numbered %s are not in cgscope's table: the profile cannot name them, "
                 "so they fail under it\n", fmt::format("{}", fmt::join(unnamed, ", ")).c_str());
  return {};
}

}  // namespace cgscope::trace
