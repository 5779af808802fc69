// RFC 4648 base64 with padding: HTTP basic auth (proxy), and the exact bytes of
// a string that is not valid UTF-8 in trace's JSON (`..._raw`).
#pragma once

#include <string>
#include <string_view>

namespace cgscope {

void append_base64(std::string& out, std::string_view in);

inline std::string base64(std::string_view in) {
  std::string out;
  append_base64(out, in);
  return out;
}

}  // namespace cgscope
