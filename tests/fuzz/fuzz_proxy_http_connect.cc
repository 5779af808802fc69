// An HTTP proxy's answer to CONNECT is outside input. The first byte chooses
// how the rest is cut into reads; the rest goes to the head parser as-is (with
// a small bound, so that the bound's edge is reached) and to the handshake.
#include <cstdint>
#include <string_view>

#include "proxy/destination.h"
#include "proxy/http_connect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cgscope::proxy;
  if (size == 0) return 0;
  const uint8_t knobs = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  for (size_t bound : {size_t{64}, kMaxHttpHead}) {
    HttpHead h = parse_http_head(in, bound);
    if (h.state == HttpHead::State::ok && (h.size > in.size() || h.size > bound || h.status < 100 || h.status > 999))
      __builtin_trap();
    if (h.state == HttpHead::State::bad && h.error.empty()) __builtin_trap();
  }

  auto dst = *make_destination("10.0.0.1", 443, (knobs & 1) ? "name.test" : "");
  auto hs = HttpConnectHandshake::create(dst, (knobs & 2) ? "user" : "", "pass");
  if (!hs) __builtin_trap();
  size_t step = 1 + (knobs >> 2) * 7;
  Handshake::Status st = Handshake::Status::need_more;
  for (size_t off = 0; off < in.size() && st == Handshake::Status::need_more; off += step)
    st = (*hs)->feed(in.substr(off, step));
  if (st == Handshake::Status::need_more) st = (*hs)->end_of_input();
  if (st == Handshake::Status::failed && (*hs)->error().empty()) __builtin_trap();
  return 0;
}
