// --via URLs come from the command line: any bytes. Parses without resolving
// (no DNS from a fuzzer) and checks what a parsed URL promises.
#include <cstdint>
#include <string_view>

#include "proxy/upstream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cgscope::proxy;
  std::string_view url(reinterpret_cast<const char*>(data), size);
  auto u = parse_upstream_url(url);
  if (!u) {
    if (u.error().message.empty()) __builtin_trap();
    return 0;
  }
  if (u->kind != Upstream::Kind::direct && (u->host.empty() || u->port == 0)) __builtin_trap();
  if (u->kind != Upstream::Kind::http && (u->user.size() > 255 || u->pass.size() > 255)) __builtin_trap();
  // The password never shows: the description is the same whatever it is.
  Upstream other = *u;
  other.pass = u->pass == "x" ? "y" : "x";
  if (describe(*u) != describe(other)) __builtin_trap();
  return 0;
}
