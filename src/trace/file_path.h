// The file sections the kernel adds to records (struct cgs_fd_path and the path
// after it, bpf/lib/trace_fd.bpf.h), read back: what a section names, or why it
// names nothing, and absolute paths made from a base and a relative path. Pure:
// no syscalls, no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cgscope/abi/trace.h"
#include "trace/decoder.h"

namespace cgscope::trace {

struct FdPath {
  uint8_t kind = 0;        // CGS_ARG_FDPATH ... CGS_ARG_FDCLOSE
  uint16_t flags = 0;      // CGS_FDPATH_F_*
  uint32_t gen = 0;        // path generation before it was resolved
  uint16_t mode = 0;       // inode mode of the file
  uint64_t ino = 0;
  uint32_t magic = 0;
  uint32_t dev = 0;        // with ino: which file (file events only; 0 otherwise)
  int32_t fd = -1;         // the fd it resolved (NEWFD: the new one)
  std::string_view raw;    // as the kernel wrote it: components leaf first
  uint64_t reuse_ts = 0;   // CGS_FDPATH_F_REUSED: the record whose path it has
  uint32_t reuse_tid = 0;

  bool regular() const { return (mode & 0170000) == 0100000; }
  bool deleted() const { return flags & CGS_FDPATH_F_DELETED; }
  // A base for a later close: resolved with no path moving anywhere.
  bool trusted() const { return !(flags & (CGS_FDPATH_F_MOVING | CGS_FDPATH_F_RACED)); }
};

// The section, if `var` is one of the file kinds and well formed.
std::optional<FdPath> parse_fd_path(const VarSection& var);

// The path the section names ("/etc/passwd", "socket:[1234]", "pipe:[99]",
// "anon_inode:[eventfd]"), written to `out`; when it names none, returns why in
// words (and leaves `out` empty). nullptr when there is a path.
const char* fd_path_text(const FdPath& p, std::string& out);

// The reason for a negative fd (mmap's -1): no file was meant.
inline constexpr const char* kNotAnFd = "not a file descriptor";

// `rel` made absolute against `base` (itself absolute), in `out`: an absolute
// `rel` stands alone. "." components and repeated '/' go; ".." stays, because
// the kernel resolves it after symbolic links, which text cannot.
void join_path(std::string_view base, std::string_view rel, std::string& out);

}  // namespace cgscope::trace
