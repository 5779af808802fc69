#include "lb/pin_dir.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/pinned_hooks.h"

namespace cgscope::lb {

namespace {

std::string nearest_existing(std::string dir) {
  struct stat st;
  while (::stat(dir.c_str(), &st) != 0) {
    auto slash = dir.rfind('/');
    if (slash == std::string::npos || slash == 0) return "/";
    dir.resize(slash);
  }
  return dir;
}

std::string holder_text(pid_t pid) {
  return pid ? fmt::format("another cgscope lb (pid {})", pid) : std::string("another cgscope lb");
}

}  // namespace

Result<void> require_bpffs(const std::string& dir) {
  std::string at = nearest_existing(dir);
  struct statfs fs {};
  if (::statfs(at.c_str(), &fs) != 0) return fail_errno(fmt::format("checking the filesystem of {}", at), errno);
  if (static_cast<unsigned long>(fs.f_type) == BPF_FS_MAGIC) return {};
  return fail(fmt::format("--pin-dir {} is not on a bpf filesystem ({} is on a filesystem of type 0x{:x}); BPF "
                          "objects can be pinned only on bpffs: use a directory under /sys/fs/bpf, or mount one "
                          "with `mount -t bpf bpf DIR`. Nothing was created",
                          dir, at, static_cast<unsigned long>(fs.f_type)),
              ENOTSUP);
}

Result<PinDirLock> PinDirLock::acquire(const std::string& dir, const Options& o) {
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count();
  bool told = false;
  DirLock::WaitOptions w{o.mode, {}, [&](pid_t pid) {
                           if (told || !o.on_wait) return;
                           o.on_wait(fmt::format("waiting for {}, which holds {} (up to {} s)", holder_text(pid), dir, secs));
                           told = true;
                         }};
  PinDirLock lock;
  for (;;) {
    if (o.create && ::access(dir.c_str(), F_OK) != 0) {
      if (auto r = make_pin_dir(dir); !r) return fail_with(r.error());
      lock.made_dir_ = true;
    }
    w.timeout = std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                           deadline - std::chrono::steady_clock::now()));
    auto l = DirLock::lock(dir, w);
    if (!l && l.error().code == ENOENT) {
      if (o.create) continue;  // a reset between the mkdir and the open: make it again
      return fail(fmt::format("{} does not exist", dir), ENOENT);
    }
    if (!l && l.error().code == ETIMEDOUT)
      return fail(fmt::format("{} still holds {} after {} s; nothing was changed. Wait for it to finish, or give "
                              "--lock-timeout SECONDS to wait longer",
                              holder_text(DirLock::holder(dir)), dir, secs),
                  ETIMEDOUT);
    if (!l) return fail_with(l.error());
    if (l->still_at(dir)) {
      lock.lock_ = std::move(*l);
      return lock;
    }
    lock.made_dir_ = false;  // what this call made is gone: who makes it next made it
    if (!o.create) return fail(fmt::format("{} does not exist", dir), ENOENT);
  }
}

}  // namespace cgscope::lb
