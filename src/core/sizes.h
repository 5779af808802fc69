// "16M", "4096", "1G": sizes given on the command line.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/result.h"

namespace cgscope {

Result<uint64_t> parse_size(std::string_view text, uint64_t min, uint64_t max);

}  // namespace cgscope
