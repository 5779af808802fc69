#include "proxy/socks5.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>
#include <cstring>

namespace cgscope::proxy {
namespace {

constexpr uint8_t kVersion = 5;
constexpr uint8_t kAuthVersion = 1;  // RFC 1929's sub-negotiation version
constexpr uint8_t kNoAuth = 0x00, kUserPass = 0x02, kNoAcceptable = 0xff;
constexpr uint8_t kConnect = 0x01;
constexpr uint8_t kAtypV4 = 1, kAtypName = 3, kAtypV6 = 4;

uint8_t byte(std::string_view s, size_t i) { return static_cast<uint8_t>(s[i]); }

std::string hex(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

// A reply that is not SOCKS5 at all is most often another protocol on the port.
std::string not_socks5(uint8_t first) {
  std::string why = "the upstream does not speak SOCKS5 (its reply starts with " + hex(first);
  if (first == 'H') why += ", \"H\": an HTTP proxy? use http://";
  return why + ")";
}

void put_port(std::string& out, uint16_t port) {
  out += static_cast<char>(port >> 8);
  out += static_cast<char>(port & 0xff);
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

std::string socks5_greeting(bool with_auth) {
  if (with_auth) return {static_cast<char>(kVersion), 2, static_cast<char>(kUserPass), static_cast<char>(kNoAuth)};
  return {static_cast<char>(kVersion), 1, static_cast<char>(kNoAuth)};
}

std::string socks5_auth_request(std::string_view user, std::string_view pass) {
  user = user.substr(0, 255);
  pass = pass.substr(0, 255);
  std::string out;
  out += static_cast<char>(kAuthVersion);
  out += static_cast<char>(user.size());
  out += user;
  out += static_cast<char>(pass.size());
  out += pass;
  return out;
}

Result<std::string> socks5_connect_request(const Destination& dst) {
  if (dst.len == 0) return fail("SOCKS5 CONNECT: the destination has no address");
  std::string out = {static_cast<char>(kVersion), static_cast<char>(kConnect), 0};
  if (!dst.host.empty()) {
    if (dst.host.size() > 255)
      return fail("SOCKS5 CONNECT: host name \"" + dst.host.substr(0, 40) + "...\" is longer than 255 bytes");
    out += static_cast<char>(kAtypName);
    out += static_cast<char>(dst.host.size());
    out += dst.host;
  } else if (dst.addr.ss_family == AF_INET) {
    const auto& in4 = reinterpret_cast<const sockaddr_in&>(dst.addr);
    out += static_cast<char>(kAtypV4);
    out.append(reinterpret_cast<const char*>(&in4.sin_addr), 4);
  } else if (dst.addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(dst.addr);
    out += static_cast<char>(kAtypV6);
    out.append(reinterpret_cast<const char*>(&in6.sin6_addr), 16);
  } else {
    return fail("SOCKS5 CONNECT: the destination is neither IPv4 nor IPv6");
  }
  put_port(out, address_port(dst.addr));
  return out;
}

Socks5Reply parse_socks5_reply(std::string_view in) {
  Socks5Reply r;
  if (in.empty()) return r;
  if (byte(in, 0) != kVersion) {
    r.state = Socks5Reply::State::bad;
    r.error = not_socks5(byte(in, 0));
    return r;
  }
  if (in.size() < 4) return r;  // VER REP RSV ATYP
  size_t addr_len = 0, addr_off = 4;
  switch (byte(in, 3)) {
    case kAtypV4:
      addr_len = 4;
      break;
    case kAtypV6:
      addr_len = 16;
      break;
    case kAtypName:
      if (in.size() < 5) return r;  // the name's length byte
      addr_len = byte(in, 4);
      addr_off = 5;
      break;
    default:
      r.state = Socks5Reply::State::bad;
      r.error = "bad SOCKS5 reply: unknown address type " + std::to_string(byte(in, 3));
      return r;
  }
  size_t size = addr_off + addr_len + 2;
  if (in.size() < size) return r;
  uint16_t port = static_cast<uint16_t>(byte(in, addr_off + addr_len) << 8 | byte(in, addr_off + addr_len + 1));
  char text[INET6_ADDRSTRLEN] = {};
  if (byte(in, 3) == kAtypV4) {
    inet_ntop(AF_INET, in.data() + addr_off, text, sizeof text);
    r.bound = std::string(text) + ":" + std::to_string(port);
  } else if (byte(in, 3) == kAtypV6) {
    inet_ntop(AF_INET6, in.data() + addr_off, text, sizeof text);
    r.bound = "[" + std::string(text) + "]:" + std::to_string(port);
  } else {
    r.bound = printable(in.substr(addr_off, addr_len)) + ":" + std::to_string(port);
  }
  r.state = Socks5Reply::State::ok;
  r.size = size;
  r.code = byte(in, 1);
  return r;
}

std::string socks5_reply_message(uint8_t code) {
  switch (code) {
    case 0:
      return "succeeded";
    case 1:
      return "general SOCKS server failure";
    case 2:
      return "connection not allowed by the proxy's rules";
    case 3:
      return "network unreachable (from the proxy)";
    case 4:
      return "host unreachable (from the proxy)";
    case 5:
      return "connection refused by the destination";
    case 6:
      return "TTL expired";
    case 7:
      return "command not supported";
    case 8:
      return "address type not supported";
    default:
      return "unknown reply code " + std::to_string(code);
  }
}

Result<std::unique_ptr<Socks5Handshake>> Socks5Handshake::create(const Destination& dst, std::string user,
                                                                 std::string pass) {
  auto req = socks5_connect_request(dst);
  if (!req) return fail_with(req.error());
  return std::unique_ptr<Socks5Handshake>(new Socks5Handshake(std::move(*req), std::move(user), std::move(pass)));
}

Socks5Handshake::Socks5Handshake(std::string connect, std::string user, std::string pass)
    : connect_(std::move(connect)), user_(std::move(user)), pass_(std::move(pass)) {
  // One message at a time: servers (microsocks among them) read each message on
  // its own and may drop bytes sent ahead of their answer.
  out_ = socks5_greeting(!user_.empty());
}

Handshake::Status Socks5Handshake::step() {
  switch (stage_) {
    case Stage::method:
      return on_method();
    case Stage::auth:
      return on_auth();
    case Stage::reply:
      return on_reply();
  }
  return Status::need_more;
}

Handshake::Status Socks5Handshake::on_method() {
  if (!in_.empty() && byte(in_, 0) != kVersion) return broken(not_socks5(byte(in_, 0)));
  if (in_.size() < 2) return Status::need_more;
  uint8_t method = byte(in_, 1);
  in_.erase(0, 2);
  if (method == kNoAcceptable)
    return refuse(user_.empty() ? "the proxy wants authentication (put user:pass@ in the --via URL)"
                                : "the proxy accepts neither user/pass nor no authentication");
  if (method == kUserPass && !user_.empty()) {
    out_ += socks5_auth_request(user_, pass_);
    stage_ = Stage::auth;
    return in_.empty() ? Status::need_more : on_auth();
  }
  if (method != kNoAuth)
    return broken("bad SOCKS5 method selection: the proxy chose " + hex(method) + ", which was not offered");
  out_ += connect_;
  stage_ = Stage::reply;
  return in_.empty() ? Status::need_more : on_reply();
}

Handshake::Status Socks5Handshake::on_auth() {
  if (in_.size() < 2) return Status::need_more;
  // The sub-negotiation's version is 1; some servers answer 5. Only STATUS matters.
  uint8_t status = byte(in_, 1);
  in_.erase(0, 2);
  if (status != 0) return refuse("authentication failed: the proxy rejected user \"" + printable(user_) + "\"");
  out_ += connect_;
  stage_ = Stage::reply;
  return in_.empty() ? Status::need_more : on_reply();
}

Handshake::Status Socks5Handshake::on_reply() {
  Socks5Reply r = parse_socks5_reply(in_);
  if (r.state == Socks5Reply::State::need_more) return Status::need_more;
  if (r.state == Socks5Reply::State::bad) return broken(r.error);
  if (r.code != 0) return refuse(socks5_reply_message(r.code));
  in_.erase(0, r.size);  // the rest is the destination's
  return Status::done;
}

}  // namespace cgscope::proxy
