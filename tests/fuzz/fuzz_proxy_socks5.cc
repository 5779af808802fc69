// A SOCKS5 upstream's replies are outside input. The first byte chooses the
// credentials and how the rest is cut into reads; the rest is fed to the reply
// parser as-is and to the handshake in those pieces.
#include <cstdint>
#include <string_view>

#include "proxy/destination.h"
#include "proxy/socks5.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cgscope::proxy;
  if (size == 0) return 0;
  const uint8_t knobs = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  Socks5Reply r = parse_socks5_reply(in);
  if (r.state == Socks5Reply::State::ok && (r.size > in.size() || r.size < 7)) __builtin_trap();
  if (r.state == Socks5Reply::State::bad && r.error.empty()) __builtin_trap();

  auto dst = *make_destination((knobs & 1) ? "::1" : "10.0.0.1", 80, (knobs & 2) ? "name.test" : "");
  auto h = Socks5Handshake::create(dst, (knobs & 4) ? "user" : "", "pass");
  if (!h) __builtin_trap();
  size_t step = 1 + (knobs >> 3);
  size_t fed = 0;
  Handshake::Status st = Handshake::Status::need_more;
  for (size_t off = 0; off < in.size() && st == Handshake::Status::need_more; off += step) {
    std::string_view piece = in.substr(off, step);
    st = (*h)->feed(piece);
    fed += piece.size();
    (void)(*h)->take_output();
  }
  if (st == Handshake::Status::need_more) st = (*h)->end_of_input();
  if (st == Handshake::Status::failed && (*h)->error().empty()) __builtin_trap();
  if (st == Handshake::Status::done && (*h)->take_leftover().size() >= fed) __builtin_trap();
  return 0;
}
