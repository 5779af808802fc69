#include "proxy/handshake.h"

#include "proxy/http_connect.h"
#include "proxy/socks5.h"

namespace cgscope::proxy {

Handshake::Status Handshake::feed(std::string_view in) {
  if (status_ != Status::need_more) {
    // After done, more bytes are the destination's too: kept for take_leftover().
    if (status_ == Status::done) in_.append(in);
    return status_;
  }
  in_.append(in);
  status_ = step();
  return status_;
}

Handshake::Status Handshake::end_of_input() {
  if (status_ == Status::need_more)
    broken("the upstream closed the connection during the " + std::string(protocol()) + " handshake" +
           (in_.empty() ? "" : " (after a partial reply)"));
  return status_;
}

Handshake::Status Handshake::refuse(std::string why) {
  failure_ = Failure::refused;
  error_ = std::move(why);
  status_ = Status::failed;
  return status_;
}

Handshake::Status Handshake::broken(std::string why) {
  failure_ = Failure::protocol;
  error_ = std::move(why);
  status_ = Status::failed;
  return status_;
}

Result<std::unique_ptr<Handshake>> make_handshake(const Upstream& u, const Destination& dst) {
  switch (u.kind) {
    case Upstream::Kind::direct:
      return std::unique_ptr<Handshake>();
    case Upstream::Kind::socks5:
    case Upstream::Kind::socks5h: {
      auto h = Socks5Handshake::create(dst, u.user, u.pass);
      if (!h) return fail_with(h.error());
      return std::unique_ptr<Handshake>(std::move(*h));
    }
    case Upstream::Kind::http: {
      auto h = HttpConnectHandshake::create(dst, u.user, u.pass);
      if (!h) return fail_with(h.error());
      return std::unique_ptr<Handshake>(std::move(*h));
    }
  }
  return fail("unknown upstream kind");
}

}  // namespace cgscope::proxy
