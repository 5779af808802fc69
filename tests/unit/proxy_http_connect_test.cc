// HTTP CONNECT request building, response head parsing (split at every byte
// boundary, bad heads, the size bound) and the handshake's messages.
#include <gtest/gtest.h>

#include <string>

#include "proxy/destination.h"
#include "proxy/http_connect.h"

namespace cgscope::proxy {
namespace {

Destination dst(const char* ip, uint16_t port, std::string host = "") { return *make_destination(ip, port, host); }

const std::string kTinyproxyOk = "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n";

TEST(ProxyHttpConnect, Base64) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // RFC 7617's example
  EXPECT_EQ(base64(std::string("\xff\x00\x80", 3)), "/wCA");
}

TEST(ProxyHttpConnect, Requests) {
  EXPECT_EQ(*http_connect_request(dst("10.0.0.7", 443), "", ""),
            "CONNECT 10.0.0.7:443 HTTP/1.1\r\nHost: 10.0.0.7:443\r\n\r\n");
  EXPECT_EQ(*http_connect_request(dst("::1", 80), "", ""), "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n");
  EXPECT_EQ(*http_connect_request(dst("10.0.0.7", 443, "example.com"), "Aladdin", "open sesame"),
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
            "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
}

TEST(ProxyHttpConnect, NamesThatWouldInjectAreRefused) {
  for (const char* bad : {"a b", "a\r\nX-Evil: 1", "a/b", "user@host", ""}) {
    auto r = http_connect_request(dst("10.0.0.7", 80, bad), "", "");
    if (std::string(bad).empty()) {
      EXPECT_TRUE(r);  // no name: the address is used
      continue;
    }
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("characters a request cannot carry"), std::string::npos);
  }
}

TEST(ProxyHttpConnect, HeadParsing) {
  auto h = parse_http_head(kTinyproxyOk + "data");
  ASSERT_EQ(h.state, HttpHead::State::ok);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.reason, "Connection established");
  EXPECT_EQ(h.size, kTinyproxyOk.size());

  auto lf = parse_http_head("HTTP/1.1 200 OK\nVia: x\n\nrest");
  ASSERT_EQ(lf.state, HttpHead::State::ok);
  EXPECT_EQ(lf.size, 24u);

  auto bare = parse_http_head("HTTP/1.1 204\r\n\r\n");
  ASSERT_EQ(bare.state, HttpHead::State::ok);
  EXPECT_EQ(bare.status, 204);
  EXPECT_EQ(bare.reason, "");
}

TEST(ProxyHttpConnect, EveryPrefixNeedsMore) {
  for (size_t n = 0; n < kTinyproxyOk.size(); ++n)
    EXPECT_EQ(parse_http_head(kTinyproxyOk.substr(0, n)).state, HttpHead::State::need_more) << n;
}

TEST(ProxyHttpConnect, BadHeads) {
  struct Case {
    std::string in;
    const char* says;
  } cases[] = {
      {std::string("\x05\x00", 2) + "abc", "does not speak HTTP"},
      {"SSH-2.0-OpenSSH\r\n", "does not speak HTTP"},
      {"HTTP/1.1 2x0 OK\r\n", "bad HTTP status line"},
      {"HTTP/1.1 099 Low\r\n", "bad HTTP status line"},
      {"HTTP/1.1 2000 OK\r\n", "bad HTTP status line"},
      {"HTTP/1.1  200 OK\r\n", "bad HTTP status line"},
      {"HTTP/1.1 200 OK\r\n" + std::string(kMaxHttpHead, 'x'), "longer than 16384 bytes"},
      {"HTTP/1.1 200 OK\r\nX: " + std::string(kMaxHttpHead, 'x') + "\r\n\r\n", "longer than 16384 bytes"},
  };
  for (const auto& c : cases) {
    auto h = parse_http_head(c.in);
    ASSERT_EQ(h.state, HttpHead::State::bad) << c.in.substr(0, 30);
    EXPECT_NE(h.error.find(c.says), std::string::npos) << h.error;
  }
}

TEST(ProxyHttpConnect, HandshakeAtEveryByteBoundary) {
  const std::string reply = kTinyproxyOk + "server first";
  for (size_t cut = 0; cut <= reply.size(); ++cut) {
    auto h = *HttpConnectHandshake::create(dst("10.0.0.7", 80), "", "");
    EXPECT_EQ(h->take_output(), "CONNECT 10.0.0.7:80 HTTP/1.1\r\nHost: 10.0.0.7:80\r\n\r\n");
    auto st = h->feed(std::string_view(reply).substr(0, cut));
    if (cut < kTinyproxyOk.size()) EXPECT_EQ(st, Handshake::Status::need_more) << cut;
    st = h->feed(std::string_view(reply).substr(cut));
    ASSERT_EQ(st, Handshake::Status::done) << cut << ": " << h->error();
    EXPECT_EQ(h->take_leftover(), "server first") << cut;
    EXPECT_EQ(h->take_output(), "");
  }
}

TEST(ProxyHttpConnect, InterimResponsesAreSkipped) {
  auto h = *HttpConnectHandshake::create(dst("10.0.0.7", 80), "", "");
  ASSERT_EQ(h->feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), Handshake::Status::done) << h->error();
}

TEST(ProxyHttpConnect, RefusalsAreClear) {
  struct Case {
    const char* user;
    std::string reply;
    const char* says;
  } cases[] = {
      {"", "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
       "HTTP 407 Proxy Authentication Required: the proxy wants credentials (put user:pass@ in the --via URL)"},
      {"bob", "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", "the proxy rejected the credentials"},
      {"", "HTTP/1.0 403 Access violation\r\n\r\n",
       "HTTP 403 Access violation: the proxy does not allow this destination or port"},
      {"", "HTTP/1.0 502 Unable to connect\r\n\r\n",
       "HTTP 502 Unable to connect: the proxy could not reach the destination"},
      {"", "HTTP/1.1 500 Oops\r\n\r\n", "HTTP 500 Oops"},
      {"", "HTTP/1.1 101 Switching\r\n\r\n", "HTTP 101"},
  };
  for (const auto& c : cases) {
    auto h = *HttpConnectHandshake::create(dst("10.0.0.7", 80), c.user, "pw");
    ASSERT_EQ(h->feed(c.reply), Handshake::Status::failed);
    EXPECT_EQ(h->failure(), Handshake::Failure::refused);
    EXPECT_NE(h->error().find(c.says), std::string::npos) << h->error();
  }
  auto h = *HttpConnectHandshake::create(dst("10.0.0.7", 80), "", "");
  ASSERT_EQ(h->feed(std::string("\x05\xff", 2) + "garbage"), Handshake::Status::failed);
  EXPECT_EQ(h->failure(), Handshake::Failure::protocol);
}

TEST(ProxyHttpConnect, EarlyClose) {
  auto h = *HttpConnectHandshake::create(dst("10.0.0.7", 80), "", "");
  h->feed("HTTP/1.1 200 OK\r\n");
  ASSERT_EQ(h->end_of_input(), Handshake::Status::failed);
  EXPECT_NE(h->error().find("closed the connection during the HTTP CONNECT handshake"), std::string::npos);
}

}  // namespace
}  // namespace cgscope::proxy
