// HTTP CONNECT client side (RFC 9110 section 9.3.6), with Basic proxy auth: the
// request as bytes, the response head parsed from bytes, and the handshake.
// No sockets; see handshake.h.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/base64.h"
#include "core/result.h"
#include "proxy/destination.h"
#include "proxy/handshake.h"

namespace cgscope::proxy {

// A response head larger than this is refused: a proxy's answer to CONNECT is a
// few lines, and the bound keeps a hostile upstream from filling our memory.
inline constexpr size_t kMaxHttpHead = 16 * 1024;

// "CONNECT host:port HTTP/1.1", Host, and Proxy-Authorization when user is set.
// The name when dst.host is set, else the address ("[::1]:443" for IPv6). Fails
// for a name with characters that do not belong in a request line.
Result<std::string> http_connect_request(const Destination& dst, std::string_view user, std::string_view pass);

// The status line and headers of a response, up to the blank line.
struct HttpHead {
  enum class State { need_more, ok, bad };
  State state = State::need_more;
  size_t size = 0;     // ok: bytes of the head, blank line included
  int status = 0;      // ok: 200, 407, ...
  std::string reason;  // ok: "Connection established"
  std::string error;   // bad: why
};
// Lines end in CRLF or, leniently, LF alone. More than max_head bytes without
// the blank line is bad.
HttpHead parse_http_head(std::string_view in, size_t max_head = kMaxHttpHead);

using cgscope::base64;  // RFC 4648, for Proxy-Authorization (core/base64.h)

class HttpConnectHandshake final : public Handshake {
 public:
  static Result<std::unique_ptr<HttpConnectHandshake>> create(const Destination& dst, std::string_view user,
                                                              std::string_view pass);
  std::string_view protocol() const override { return "HTTP CONNECT"; }

 private:
  HttpConnectHandshake(std::string request, bool with_auth);
  Status step() override;
  Status refused(const HttpHead& h);

  bool with_auth_;
};

}  // namespace cgscope::proxy
