// SOCKS5 client side (RFC 1928, with RFC 1929 user/pass auth): the requests as
// bytes, the replies parsed from bytes, and the handshake that strings them
// together. No sockets; see handshake.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "proxy/destination.h"
#include "proxy/handshake.h"

namespace cgscope::proxy {

// VER 5, the methods offered: "no auth" alone, or user/pass and "no auth".
std::string socks5_greeting(bool with_auth);
// VER 1, ULEN, UNAME, PLEN, PASSWD (each at most 255 bytes; longer is cut, but
// parse_upstream_url refuses such URLs first).
std::string socks5_auth_request(std::string_view user, std::string_view pass);
// CONNECT to dst: ATYP 3 (the name) when dst.host is set, else ATYP 1 or 4 (the
// address). Fails for a name over 255 bytes or a destination with no address.
Result<std::string> socks5_connect_request(const Destination& dst);

// A reply to CONNECT: VER REP RSV ATYP BND.ADDR BND.PORT.
struct Socks5Reply {
  enum class State { need_more, ok, bad };
  State state = State::need_more;
  size_t size = 0;    // ok: bytes the reply took
  uint8_t code = 0;   // ok: REP (0 is success)
  std::string bound;  // ok: BND.ADDR:BND.PORT as text ("10.0.0.1:4242", "[::1]:80", "name:80")
  std::string error;  // bad: why
};
Socks5Reply parse_socks5_reply(std::string_view in);

// REP as words: 1 "general SOCKS server failure", 5 "connection refused", ...
std::string socks5_reply_message(uint8_t code);

class Socks5Handshake final : public Handshake {
 public:
  static Result<std::unique_ptr<Socks5Handshake>> create(const Destination& dst, std::string user, std::string pass);
  std::string_view protocol() const override { return "SOCKS5"; }

 private:
  enum class Stage { method, auth, reply };
  Socks5Handshake(std::string connect, std::string user, std::string pass);
  Status step() override;
  Status on_method();
  Status on_auth();
  Status on_reply();

  Stage stage_ = Stage::method;
  std::string connect_, user_, pass_;
};

}  // namespace cgscope::proxy
