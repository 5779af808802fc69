#include "trace/file_path.h"

#include <cstring>

#include <fmt/format.h>

namespace cgscope::trace {
namespace {

// Super block magics of the pseudo file systems whose files /proc names by kind
// and inode (include/uapi/linux/magic.h).
constexpr uint32_t kSockfsMagic = 0x534F434B;
constexpr uint32_t kPipefsMagic = 0x50495045;
constexpr uint32_t kAnonInodeMagic = 0x09041934;
constexpr uint32_t kPidfsMagic = 0x50494446;

bool is_file_kind(uint8_t kind) { return kind >= CGS_ARG_FDPATH && kind <= CGS_ARG_FDCLOSE; }

// "c/b/a" (leaf first, as the kernel walks) -> "/a/b/c"; "" -> "/".
void reverse_components(std::string_view raw, std::string& out) {
  out.clear();
  if (raw.empty()) {
    out = "/";
    return;
  }
  size_t end = raw.size();
  while (true) {
    size_t slash = raw.rfind('/', end - 1);
    size_t start = slash == std::string_view::npos ? 0 : slash + 1;
    out += '/';
    out.append(raw.data() + start, end - start);
    if (slash == std::string_view::npos || slash == 0) break;
    end = slash;
  }
}

// What /proc/PID/fd shows for a file that lives in no mounted tree.
const char* pseudo_text(const FdPath& p, std::string& out) {
  switch (p.magic) {
    case kSockfsMagic:
      out = fmt::format("socket:[{}]", p.ino);
      return nullptr;
    case kPipefsMagic:
      out = fmt::format("pipe:[{}]", p.ino);
      return nullptr;
    case kAnonInodeMagic:
    case kPidfsMagic:  // pidfds live in pidfs since 6.9; /proc still says anon_inode
      out = "anon_inode:";
      out += p.magic == kPidfsMagic ? std::string_view("[pidfd]") : p.raw;
      return nullptr;
    default:
      out.clear();
      return "a file of a pseudo file system cgscope cannot name (see /proc/PID/fd)";
  }
}

}  // namespace

std::optional<FdPath> parse_fd_path(const VarSection& var) {
  if (!var.present || !is_file_kind(var.kind) || var.data.size() < sizeof(cgs_fd_path)) return std::nullopt;
  cgs_fd_path h;
  std::memcpy(&h, var.data.data(), sizeof(h));
  FdPath p;
  p.kind = var.kind;
  p.flags = h.flags;
  p.gen = h.gen;
  p.mode = h.mode;
  p.ino = h.ino;
  p.magic = h.magic;
  p.dev = h.dev;
  p.fd = h.fd;
  auto* s = reinterpret_cast<const char*>(var.data.data()) + sizeof(h);
  size_t n = var.data.size() - sizeof(h);
  if (h.flags & CGS_FDPATH_F_REUSED) {
    cgs_fd_reuse ru;
    if (n < sizeof(ru)) return std::nullopt;
    std::memcpy(&ru, s, sizeof(ru));
    p.reuse_ts = ru.ts_ns;
    p.reuse_tid = ru.tid;
    return p;  // no path of its own
  }
  while (n > 0 && s[n - 1] == 0) n--;
  p.raw = std::string_view(s, n);
  return p;
}

const char* fd_path_text(const FdPath& p, std::string& out) {
  out.clear();
  if (p.flags & CGS_FDPATH_F_REUSED) return "the earlier record that named this file was not seen (lost when the ring was full) or is no longer kept";
  if (p.flags & CGS_FDPATH_F_NOT_OPEN) return p.kind == CGS_ARG_DIRPATH ? "the directory fd is not open" : "fd not open";
  if (p.flags & CGS_FDPATH_F_FAULT) return "the path argument could not be read";
  if (p.flags & CGS_FDPATH_F_TOO_LONG) return "longer than cgscope resolves (4096 bytes, 48 components)";
  if (p.flags & CGS_FDPATH_F_RACED) return "renamed while cgscope read it";
  if (p.flags & CGS_FDPATH_F_DETACHED) return "its directory is cut off from the tree (a lazy unmount, NFS)";
  if (p.flags & CGS_FDPATH_F_PSEUDO) return pseudo_text(p, out);
  reverse_components(p.raw, out);
  return nullptr;
}

void join_path(std::string_view base, std::string_view rel, std::string& out) {
  out.clear();
  if (rel.empty() || rel.front() != '/') out.append(base);
  auto add = [&](std::string_view part) {
    if (part.empty() || part == ".") return;
    if (out.empty() || out.back() != '/') out += '/';
    out.append(part);
  };
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string_view::npos) slash = rel.size();
    add(rel.substr(start, slash - start));
    start = slash + 1;
  }
  if (out.empty()) out = "/";
  // A base of "/" with nothing added, or a path ending in "/.": no trailing slash
  // but for the root.
  while (out.size() > 1 && out.back() == '/') out.pop_back();
}

}  // namespace cgscope::trace
