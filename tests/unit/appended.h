// The formatter tests' one helper: what a formatter appends to a fresh string.
#pragma once

#include <string>

namespace cgscope::trace {

template <class F, class... A>
std::string fmt(F f, A... args) {
  std::string out;
  f(out, args...);
  return out;
}

}  // namespace cgscope::trace
