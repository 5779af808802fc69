#include "core/mountinfo.h"

#include "core/small_file.h"

namespace cgscope {
namespace {

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// Splits on single spaces, as the kernel writes mountinfo (fields never hold a
// raw space: it is escaped).
std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos <= line.size()) {
    std::size_t sp = line.find(' ', pos);
    if (sp == std::string_view::npos) sp = line.size();
    if (sp > pos) out.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

}  // namespace

std::string unescape_mountinfo_field(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) && is_octal(field[i + 2]) && is_octal(field[i + 3])) {
      int v = (field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0');
      if (v <= 0xff) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> entries;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    // id parent maj:min root mount-point options [optional...] - fstype source super-options
    auto f = split_spaces(line);
    if (f.size() < 7) continue;
    std::size_t sep = 6;
    while (sep < f.size() && f[sep] != "-") ++sep;
    if (sep + 1 >= f.size()) continue;  // no separator, or no fstype after it
    MountEntry e;
    e.mount_point = unescape_mountinfo_field(f[4]);
    if (e.mount_point.empty() || e.mount_point[0] != '/') continue;
    e.root = unescape_mountinfo_field(f[3]);
    e.fstype = std::string(f[sep + 1]);
    entries.push_back(std::move(e));
  }
  return entries;
}

bool is_same_or_below(std::string_view path, std::string_view dir) {
  if (dir == "/") return true;
  if (path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

bool mount_visible(const std::vector<MountEntry>& entries, std::size_t i) {
  for (std::size_t j = i + 1; j < entries.size(); ++j)
    if (is_same_or_below(entries[i].mount_point, entries[j].mount_point)) return false;
  return true;
}

bool is_mount_point(const std::vector<MountEntry>& entries, std::string_view path) {
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entries[i].mount_point == path && mount_visible(entries, i)) return true;
  return false;
}

Result<std::string> read_mountinfo() { return read_small_file("/proc/self/mountinfo", 64 << 20); }

}  // namespace cgscope
