// Whole-file reads and writes of the small kernel files cgscope talks through
// (/proc, cgroupfs): EINTR retried, a size bound, errors that name the file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cgscope {

// The contents of `path`; fails (EFBIG) past `limit` bytes: the file is outside input.
Result<std::string> read_small_file(const std::string& path, std::size_t limit = 1 << 20);

// Writes `data` to `path` in one write(2), as cgroupfs and procfs expect.
Result<void> write_small_file(const std::string& path, std::string_view data);

}  // namespace cgscope
