#include "core/sizes.h"

#include <charconv>

#include <fmt/format.h>

namespace cgscope {

Result<uint64_t> parse_size(std::string_view text, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p == text.data())
    return fail(fmt::format("'{}' is not a size; write a number with an optional K, M or G", text));
  std::string_view unit(p, text.data() + text.size() - p);
  unsigned shift = 0;
  if (unit == "K" || unit == "k" || unit == "KiB") shift = 10;
  else if (unit == "M" || unit == "m" || unit == "MiB") shift = 20;
  else if (unit == "G" || unit == "g" || unit == "GiB") shift = 30;
  else if (!unit.empty()) return fail(fmt::format("'{}': unknown unit '{}'; use K, M or G", text, unit));
  if (v > (max >> shift)) return fail(fmt::format("'{}' is larger than the maximum {}", text, max));
  v <<= shift;
  if (v < min) return fail(fmt::format("'{}' is smaller than the minimum {}", text, min));
  return v;
}

}  // namespace cgscope
