// Reading fields of a user struct from its copied bytes (decode_struct*.cc):
// by offset, with no alignment assumed; the caller checks the size first.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace cgscope::trace {

template <class T>
T field(std::span<const uint8_t> d, size_t off) {
  T v{};
  if (off + sizeof(T) <= d.size()) std::memcpy(&v, d.data() + off, sizeof(T));
  return v;
}

// A char[n] field, up to its first NUL.
inline std::string_view char_field(std::span<const uint8_t> d, size_t off, size_t n) {
  if (off + n > d.size()) return {};
  const char* p = reinterpret_cast<const char*>(d.data() + off);
  size_t len = 0;
  while (len < n && p[len]) len++;
  return {p, len};
}

}  // namespace cgscope::trace
