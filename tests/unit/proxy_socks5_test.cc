// SOCKS5 requests as bytes (RFC 1928 / 1929), reply parsing, and the handshake
// fed its replies in every split (one piece, two pieces at each boundary, one
// byte at a time).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/destination.h"
#include "proxy/socks5.h"

namespace cgscope::proxy {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

Destination dst(const char* ip, uint16_t port, std::string host = "") { return *make_destination(ip, port, host); }

// The handshake's replies, as one string, and what it must send at each stage.
struct Script {
  std::vector<std::string> expect_out;  // output after construction, then after each reply
  std::vector<std::string> replies;
};

// Runs the handshake with `replies` fed in `split`-byte pieces (0: each reply
// whole); returns its final status and checks the output at each stage.
Handshake::Status play(Handshake& h, const Script& s, size_t split) {
  EXPECT_EQ(h.take_output(), s.expect_out.at(0));
  Handshake::Status st = h.status();
  for (size_t i = 0; i < s.replies.size(); ++i) {
    const std::string& r = s.replies[i];
    size_t step = split ? split : r.size();
    for (size_t off = 0; off < r.size(); off += step) {
      st = h.feed(std::string_view(r).substr(off, step));
      if (st == Handshake::Status::failed) return st;
      // Nothing is sent before a reply is whole.
      if (off + step < r.size()) EXPECT_EQ(h.take_output(), "") << "reply " << i << " at byte " << off;
    }
    if (i + 1 < s.expect_out.size()) EXPECT_EQ(h.take_output(), s.expect_out[i + 1]) << "after reply " << i;
  }
  return st;
}

const std::string kOkReplyV4 = bytes({5, 0, 0, 1, 10, 0, 0, 1, 0x10, 0x92});

TEST(ProxySocks5, Requests) {
  EXPECT_EQ(socks5_greeting(false), bytes({5, 1, 0}));
  EXPECT_EQ(socks5_greeting(true), bytes({5, 2, 2, 0}));
  EXPECT_EQ(socks5_auth_request("bob", "pw"), bytes({1, 3, 'b', 'o', 'b', 2, 'p', 'w'}));
  EXPECT_EQ(socks5_auth_request("bob", ""), bytes({1, 3, 'b', 'o', 'b', 0}));
  EXPECT_EQ(*socks5_connect_request(dst("93.184.216.34", 443)), bytes({5, 1, 0, 1, 93, 184, 216, 34, 1, 0xbb}));
  EXPECT_EQ(*socks5_connect_request(dst("::1", 80)),
            bytes({5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80}));
  EXPECT_EQ(*socks5_connect_request(dst("93.184.216.34", 80, "a.io")),
            bytes({5, 1, 0, 3, 4, 'a', '.', 'i', 'o', 0, 80}));
}

TEST(ProxySocks5, RequestErrors) {
  EXPECT_FALSE(socks5_connect_request(Destination{}));
  auto r = socks5_connect_request(dst("10.0.0.1", 80, std::string(256, 'x')));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("longer than 255 bytes"), std::string::npos);
  EXPECT_TRUE(socks5_connect_request(dst("10.0.0.1", 80, std::string(255, 'x'))));
}

TEST(ProxySocks5, ReplyOfEachAddressType) {
  auto v4 = parse_socks5_reply(kOkReplyV4);
  ASSERT_EQ(v4.state, Socks5Reply::State::ok);
  EXPECT_EQ(v4.size, 10u);
  EXPECT_EQ(v4.code, 0);
  EXPECT_EQ(v4.bound, "10.0.0.1:4242");

  std::string v6 = bytes({5, 0, 0, 4}) + std::string(15, '\0') + bytes({1, 0, 80});
  auto r6 = parse_socks5_reply(v6);
  ASSERT_EQ(r6.state, Socks5Reply::State::ok);
  EXPECT_EQ(r6.size, 22u);
  EXPECT_EQ(r6.bound, "[::1]:80");

  auto name = parse_socks5_reply(bytes({5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 81}) + "extra");
  ASSERT_EQ(name.state, Socks5Reply::State::ok);
  EXPECT_EQ(name.size, 10u);  // the extra bytes are not the reply's
  EXPECT_EQ(name.bound, "abc:81");
}

TEST(ProxySocks5, ShortRepliesNeedMoreAtEveryLength) {
  std::string v6 = bytes({5, 0, 0, 4}) + std::string(16, '\0') + bytes({0, 80});
  for (const std::string& full : {kOkReplyV4, v6, bytes({5, 0, 0, 3, 2, 'h', 'i', 0, 80})}) {
    for (size_t n = 0; n < full.size(); ++n)
      EXPECT_EQ(parse_socks5_reply(full.substr(0, n)).state, Socks5Reply::State::need_more) << n;
    EXPECT_EQ(parse_socks5_reply(full).state, Socks5Reply::State::ok);
  }
}

TEST(ProxySocks5, BadReplies) {
  auto http = parse_socks5_reply("HTTP/1.1 400 Bad Request\r\n");
  ASSERT_EQ(http.state, Socks5Reply::State::bad);
  EXPECT_NE(http.error.find("does not speak SOCKS5"), std::string::npos);
  EXPECT_NE(http.error.find("use http://"), std::string::npos);
  auto v4 = parse_socks5_reply(bytes({4, 90}));
  ASSERT_EQ(v4.state, Socks5Reply::State::bad);
  EXPECT_NE(v4.error.find("0x04"), std::string::npos);
  auto atyp = parse_socks5_reply(bytes({5, 0, 0, 9, 0, 0, 0, 0, 0, 0}));
  ASSERT_EQ(atyp.state, Socks5Reply::State::bad);
  EXPECT_NE(atyp.error.find("unknown address type 9"), std::string::npos);
}

TEST(ProxySocks5, ReplyCodesAsWords) {
  EXPECT_EQ(socks5_reply_message(1), "general SOCKS server failure");
  EXPECT_EQ(socks5_reply_message(2), "connection not allowed by the proxy's rules");
  EXPECT_EQ(socks5_reply_message(5), "connection refused by the destination");
  EXPECT_EQ(socks5_reply_message(8), "address type not supported");
  EXPECT_EQ(socks5_reply_message(42), "unknown reply code 42");
}

TEST(ProxySocks5, NoAuthHandshakeAtEverySplit) {
  const std::string connect = *socks5_connect_request(dst("10.0.0.7", 80));
  Script s{{bytes({5, 1, 0}), connect, ""}, {bytes({5, 0}), kOkReplyV4 + "banner"}};
  for (size_t split = 0; split <= 3; ++split) {
    auto h = Socks5Handshake::create(dst("10.0.0.7", 80), "", "");
    ASSERT_TRUE(h);
    ASSERT_EQ(play(**h, s, split), Handshake::Status::done) << (*h)->error();
    EXPECT_EQ((*h)->take_leftover(), "banner") << split;
  }
}

TEST(ProxySocks5, UserPassHandshakeAtEverySplit) {
  const std::string connect = *socks5_connect_request(dst("10.0.0.7", 80, "web.test"));
  Script s{{bytes({5, 2, 2, 0}), socks5_auth_request("bob", "pw"), connect, ""},
           {bytes({5, 2}), bytes({1, 0}), kOkReplyV4}};
  for (size_t split = 0; split <= 3; ++split) {
    auto h = Socks5Handshake::create(dst("10.0.0.7", 80, "web.test"), "bob", "pw");
    ASSERT_TRUE(h);
    ASSERT_EQ(play(**h, s, split), Handshake::Status::done) << (*h)->error();
    EXPECT_EQ((*h)->take_leftover(), "");
  }
}

TEST(ProxySocks5, TheWholeExchangeSplitAtEveryByteBoundary) {
  // All the replies as one stream cut in two at each point: the handshake
  // must send its next message only once the reply before it is whole.
  const std::string stream = bytes({5, 2}) + bytes({1, 0}) + kOkReplyV4 + "xyz";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    auto h = *Socks5Handshake::create(dst("10.0.0.7", 80), "bob", "pw");
    std::string sent = h->take_output();
    h->feed(std::string_view(stream).substr(0, cut));
    sent += h->take_output();
    auto st = h->feed(std::string_view(stream).substr(cut));
    sent += h->take_output();
    ASSERT_EQ(st, Handshake::Status::done) << cut << ": " << h->error();
    EXPECT_EQ(h->take_leftover(), "xyz") << cut;
    EXPECT_EQ(sent,
              bytes({5, 2, 2, 0}) + socks5_auth_request("bob", "pw") + *socks5_connect_request(dst("10.0.0.7", 80)));
  }
}

TEST(ProxySocks5, FailuresAreClear) {
  struct Case {
    const char* user;
    std::vector<std::string> replies;
    Handshake::Failure kind;
    const char* says;
  } cases[] = {
      {"", {bytes({5, 0xff})}, Handshake::Failure::refused, "the proxy wants authentication"},
      {"bob", {bytes({5, 0xff})}, Handshake::Failure::refused, "accepts neither user/pass"},
      {"bob",
       {bytes({5, 2}), bytes({1, 1})},
       Handshake::Failure::refused,
       "authentication failed: the proxy rejected user \"bob\""},
      {"", {bytes({5, 2})}, Handshake::Failure::protocol, "the proxy chose 0x02, which was not offered"},
      {"",
       {bytes({5, 0}), bytes({5, 5, 0, 1, 0, 0, 0, 0, 0, 0})},
       Handshake::Failure::refused,
       "connection refused by the destination"},
      {"", {bytes({5, 0}), bytes({5, 2, 0, 1, 0, 0, 0, 0, 0, 0})}, Handshake::Failure::refused, "not allowed"},
      {"", {"HTTP/1.0 400"}, Handshake::Failure::protocol, "does not speak SOCKS5"},
      {"", {bytes({5, 0}), bytes({5, 0, 0, 7})}, Handshake::Failure::protocol, "unknown address type 7"},
  };
  for (const auto& c : cases) {
    auto h = *Socks5Handshake::create(dst("10.0.0.7", 80), c.user, "pw");
    Handshake::Status st = Handshake::Status::need_more;
    for (const auto& r : c.replies) st = h->feed(r);
    ASSERT_EQ(st, Handshake::Status::failed) << c.says;
    EXPECT_EQ(h->failure(), c.kind) << c.says;
    EXPECT_NE(h->error().find(c.says), std::string::npos) << h->error();
  }
}

TEST(ProxySocks5, AnEarlyCloseIsAnError) {
  auto h = *Socks5Handshake::create(dst("10.0.0.7", 80), "", "");
  h->feed(bytes({5, 0}));
  h->feed(bytes({5, 0, 0}));
  ASSERT_EQ(h->end_of_input(), Handshake::Status::failed);
  EXPECT_EQ(h->error(), "the upstream closed the connection during the SOCKS5 handshake (after a partial reply)");
}

}  // namespace
}  // namespace cgscope::proxy
