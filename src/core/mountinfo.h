// /proc/self/mountinfo: parsed once into entries that cgroup2 discovery and the
// host mounts both read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cgscope {

// Undoes the octal escapes the kernel writes into /proc/*/mountinfo fields
// ("\040" for a space, "\011" tab, "\012" newline, "\134" backslash). A backslash
// not followed by three octal digits is kept as it is.
std::string unescape_mountinfo_field(std::string_view field);

struct MountEntry {
  std::string root;         // the path inside the filesystem that is mounted ("/" for all of it)
  std::string mount_point;  // absolute, unescaped
  std::string fstype;       // "cgroup2", "tracefs", "bpf", ...
};

// The entries of mountinfo text, in mount order. Lines that do not parse are
// skipped (the text is outside input).
std::vector<MountEntry> parse_mountinfo(std::string_view text);

// "/a/b" is at or below "/a"; "/ab" is not. "/" is above everything.
bool is_same_or_below(std::string_view path, std::string_view dir);

// Whether entry `i` is still visible: no later mount sits on its mount point or above it.
bool mount_visible(const std::vector<MountEntry>& entries, std::size_t i);

// Whether something visible is mounted exactly at `path`.
bool is_mount_point(const std::vector<MountEntry>& entries, std::string_view path);

// The text of /proc/self/mountinfo.
Result<std::string> read_mountinfo();

}  // namespace cgscope
