#include "proxy/http_connect.h"

#include <charconv>

namespace cgscope::proxy {
namespace {

std::string printable(std::string_view s, size_t max = 60) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

// The authority of the request line: host:port, [v6]:port.
Result<std::string> authority(const Destination& dst) {
  if (dst.len == 0) return fail("HTTP CONNECT: the destination has no address");
  std::string port = std::to_string(address_port(dst.addr));
  if (dst.host.empty()) return format_address(dst.addr);
  for (unsigned char c : dst.host)
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == '@')
      return fail("HTTP CONNECT: host name \"" + printable(dst.host) + "\" has characters a request cannot carry");
  bool v6 = dst.host.find(':') != std::string::npos;
  return (v6 ? "[" + dst.host + "]" : dst.host) + ":" + port;
}

// Where the line that starts at `from` ends: the index of its '\n', or npos.
size_t line_end(std::string_view in, size_t from) { return in.find('\n', from); }

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// "HTTP/1.1 200 Connection established" into h.status/h.reason.
bool parse_status_line(std::string_view line, HttpHead& h) {
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') {
    h.error = "the upstream does not speak HTTP (its reply starts \"" + printable(line, 20) + "\")";
    return false;
  }
  std::string_view code = line.substr(9, 3);
  auto [end, ec] = std::from_chars(code.data(), code.data() + 3, h.status);
  if (ec != std::errc() || end != code.data() + 3 || h.status < 100 || (line.size() > 12 && line[12] != ' ')) {
    h.error = "bad HTTP status line \"" + printable(line) + "\"";
    return false;
  }
  h.reason = printable(line.size() > 13 ? line.substr(13) : std::string_view());
  return true;
}

}  // namespace

Result<std::string> http_connect_request(const Destination& dst, std::string_view user, std::string_view pass) {
  auto where = authority(dst);
  if (!where) return fail_with(where.error());
  std::string req = "CONNECT " + *where + " HTTP/1.1\r\nHost: " + *where + "\r\n";
  if (!user.empty())
    req += "Proxy-Authorization: Basic " + base64(std::string(user) + ":" + std::string(pass)) + "\r\n";
  req += "\r\n";
  return req;
}

HttpHead parse_http_head(std::string_view in, size_t max_head) {
  HttpHead h;
  size_t eol = line_end(in, 0);
  // The status line is checked as soon as it is whole, or as soon as 12 bytes
  // show it is not HTTP: a SOCKS server's binary answer fails at once.
  if (eol == std::string_view::npos && in.size() >= 5 && in.substr(0, 5) != "HTTP/") eol = in.size();
  if (eol != std::string_view::npos && !parse_status_line(strip_cr(in.substr(0, eol)), h)) {
    h.state = HttpHead::State::bad;
    return h;
  }
  for (size_t from = eol; from != std::string_view::npos && from < in.size();) {
    size_t next = line_end(in, from + 1);
    if (next == std::string_view::npos) break;
    if (strip_cr(in.substr(from + 1, next - from - 1)).empty()) {
      if (next + 1 > max_head) break;
      h.state = HttpHead::State::ok;
      h.size = next + 1;
      return h;
    }
    from = next;
  }
  if (in.size() > max_head) {
    h = HttpHead{};
    h.state = HttpHead::State::bad;
    h.error = "the upstream's reply head is longer than " + std::to_string(max_head) + " bytes";
  }
  return h;
}

Result<std::unique_ptr<HttpConnectHandshake>> HttpConnectHandshake::create(const Destination& dst,
                                                                           std::string_view user,
                                                                           std::string_view pass) {
  auto req = http_connect_request(dst, user, pass);
  if (!req) return fail_with(req.error());
  return std::unique_ptr<HttpConnectHandshake>(new HttpConnectHandshake(std::move(*req), !user.empty()));
}

HttpConnectHandshake::HttpConnectHandshake(std::string request, bool with_auth) : with_auth_(with_auth) {
  out_ = std::move(request);
}

Handshake::Status HttpConnectHandshake::step() {
  for (;;) {
    HttpHead h = parse_http_head(in_);
    if (h.state == HttpHead::State::need_more) return Status::need_more;
    if (h.state == HttpHead::State::bad) return broken(h.error);
    in_.erase(0, h.size);
    if (h.status >= 200 && h.status < 300) return Status::done;  // the rest is the destination's
    if (h.status >= 200 || h.status == 101) return refused(h);
    // 1xx: an interim answer; the real one follows.
  }
}

Handshake::Status HttpConnectHandshake::refused(const HttpHead& h) {
  std::string what = "HTTP " + std::to_string(h.status) + (h.reason.empty() ? "" : " " + h.reason);
  switch (h.status) {
    case 407:
      return refuse(what + (with_auth_ ? ": the proxy rejected the credentials in the --via URL"
                                       : ": the proxy wants credentials (put user:pass@ in the --via URL)"));
    case 403:
      return refuse(what + ": the proxy does not allow this destination or port");
    case 502:
    case 503:
    case 504:
      return refuse(what + ": the proxy could not reach the destination");
    default:
      return refuse(what);
  }
}

}  // namespace cgscope::proxy
