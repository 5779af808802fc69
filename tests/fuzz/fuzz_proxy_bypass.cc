// libFuzzer target: --bypass CIDR parsing. A parsed prefix is within its family's
// length, masked, and formats to text that parses back to the same prefix.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "proxy/bypass.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = cgscope::proxy::parse_cidr(text);
  if (!p) {
    if (p.error().message.empty()) std::abort();
    return 0;
  }
  if (p->prefixlen > 128) std::abort();
  auto again = cgscope::proxy::parse_cidr(cgscope::proxy::format_prefix(*p));
  if (!again || again->prefixlen != p->prefixlen || std::memcmp(&again->addr, &p->addr, sizeof(p->addr)) != 0)
    std::abort();
  return 0;
}
