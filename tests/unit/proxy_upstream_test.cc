// --via URL parsing (no DNS: parse_upstream_url only; literals through
// resolve_upstream, which then looks nothing up), and describe().
#include <arpa/inet.h>
#include <netdb.h>

#include <gtest/gtest.h>
#include <netinet/in.h>

#include "proxy/destination.h"
#include "proxy/upstream.h"

namespace cgscope::proxy {
namespace {

std::string error_of(std::string_view url) {
  auto u = parse_upstream_url(url);
  return u ? std::string("(ok)") : u.error().message;
}

TEST(ProxyUpstream, Direct) {
  for (auto url : {"direct", "DIRECT", "direct://"}) {
    auto u = parse_upstream_url(url);
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->kind, Upstream::Kind::direct);
    EXPECT_EQ(describe(*u), "direct");
  }
}

TEST(ProxyUpstream, Socks5WithAddressAndPort) {
  auto u = parse_upstream_url("socks5://127.0.0.1:1080");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->kind, Upstream::Kind::socks5);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 1080);
  EXPECT_TRUE(u->user.empty());
  EXPECT_EQ(u->len, 0u);  // not resolved yet
  ASSERT_TRUE(resolve_upstream(*u));
  EXPECT_EQ(format_address(u->addr), "127.0.0.1:1080");
  EXPECT_EQ(describe(*u), "socks5://127.0.0.1:1080");
}

TEST(ProxyUpstream, SchemesAreCaseInsensitiveAndATrailingSlashIsFine) {
  EXPECT_EQ(parse_upstream_url("SOCKS5H://10.0.0.1:9050/")->kind, Upstream::Kind::socks5h);
  EXPECT_EQ(parse_upstream_url("Http://proxy.lan:3128")->kind, Upstream::Kind::http);
  EXPECT_EQ(parse_upstream_url("http://proxy.lan:3128")->host, "proxy.lan");
}

TEST(ProxyUpstream, UserAndPasswordArePercentDecoded) {
  auto u = parse_upstream_url("http://bob%40corp:p%3Ass%2F%25@proxy.lan:3128");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->user, "bob@corp");
  EXPECT_EQ(u->pass, "p:ss/%");
  EXPECT_EQ(describe(*u), "http://bob@corp:***@proxy.lan:3128");
}

TEST(ProxyUpstream, AnUnescapedAtInThePasswordSplitsAtTheLastAt) {
  auto u = parse_upstream_url("socks5://bob:p@ss@127.0.0.1:1080");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->user, "bob");
  EXPECT_EQ(u->pass, "p@ss");
}

TEST(ProxyUpstream, UserWithoutPassword) {
  auto u = parse_upstream_url("socks5://bob@127.0.0.1:1080");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->user, "bob");
  EXPECT_EQ(u->pass, "");
}

TEST(ProxyUpstream, DescribeNeverShowsThePassword) {
  auto u = parse_upstream_url("socks5://alice:s3cret@127.0.0.1:1080");
  ASSERT_TRUE(u);
  EXPECT_EQ(describe(*u).find("s3cret"), std::string::npos);
  EXPECT_EQ(describe(*u), "socks5://alice:***@127.0.0.1:1080");
}

TEST(ProxyUpstream, Ipv6LiteralsInBrackets) {
  auto u = parse_upstream_url("socks5://[::1]:1080");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->host, "::1");
  ASSERT_TRUE(resolve_upstream(*u));
  EXPECT_EQ(u->addr.ss_family, AF_INET6);
  EXPECT_EQ(format_address(u->addr), "[::1]:1080");
  EXPECT_EQ(describe(*u), "socks5://[::1]:1080");
  auto zoned = parse_upstream_url("http://[fe80::1%251]:8080");
  ASSERT_TRUE(zoned) << zoned.error().message;
  EXPECT_EQ(zoned->host, "fe80::1%1");
}

// Whether this machine resolves "localhost" at all (a bare debootstrap root has
// no /etc/hosts, and no DNS either).
bool localhost_resolves() {
  addrinfo* res = nullptr;
  if (getaddrinfo("localhost", nullptr, nullptr, &res) != 0) return false;
  freeaddrinfo(res);
  return true;
}

TEST(ProxyUpstream, ResolvesANameOnce) {
  if (!localhost_resolves()) GTEST_SKIP() << "\"localhost\" does not resolve here (no /etc/hosts?)";
  auto u = parse_upstream("http://localhost:3128");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(address_port(u->addr), 3128);
  EXPECT_NE(u->len, 0u);
  EXPECT_NE(describe(*u).find("http://localhost:3128 ("), std::string::npos) << describe(*u);
}

TEST(ProxyUpstream, BadUrlsNameTheBadPart) {
  struct Case {
    const char* url;
    const char* says;
  } cases[] = {
      {"", "not a URL"},
      {"127.0.0.1:1080", "not a URL"},
      {"ftp://h:21", "unknown scheme \"ftp\""},
      {"socks4://h:1080", "unknown scheme \"socks4\""},
      {"socks5://", "missing host:port"},
      {"socks5://host", "missing port (write host:PORT)"},
      {"socks5://host:", "missing port number"},
      {"socks5://:1080", "missing host"},
      {"socks5://host:0", "bad port \"0\""},
      {"socks5://host:65536", "bad port \"65536\""},
      {"socks5://host:80x", "bad port \"80x\""},
      {"socks5://host:-1", "bad port \"-1\""},
      {"socks5://::1:1080", "an IPv6 address goes in brackets"},
      {"socks5://[::1:1080", "missing ']'"},
      {"socks5://[::1]", "missing port after [::1]"},
      {"socks5://[::1]1080", "missing port after [::1]"},
      {"socks5://[nope]:1080", "\"nope\" is not an IPv6 address"},
      {"socks5://[10.0.0.1]:1080", "brackets are for IPv6 addresses only"},
      {"socks5://ho st:1080", "bad character in host name"},
      {"socks5://h:1080/path", "unexpected \"/path\" after host:port"},
      {"http://h:8080?x=1", "unexpected \"?x=1\""},
      {"socks5://@h:1080", "empty user name"},
      {"socks5://:pw@h:1080", "empty user name"},
      {"socks5://bob:%zz@h:1080", "bad percent escape \"%zz\" in the password"},
      {"socks5://b%4@h:1080", "bad percent escape \"%4\" in the user name"},
      {"socks5://b%@h:1080", "bad percent escape \"%\" in the user name"},
  };
  for (const auto& c : cases) {
    std::string e = error_of(c.url);
    EXPECT_NE(e.find(c.says), std::string::npos) << c.url << " -> " << e;
    EXPECT_NE(e.find(std::string("--via \"") + c.url + "\""), std::string::npos) << e;
  }
}

TEST(ProxyUpstream, Socks5CredentialsAreAtMost255Bytes) {
  std::string user(256, 'u');
  EXPECT_NE(error_of("socks5://" + user + ":p@h:1080").find("at most 255 bytes"), std::string::npos);
  EXPECT_EQ(error_of("socks5://" + std::string(255, 'u') + ":p@h:1080"), "(ok)");
  EXPECT_EQ(error_of("http://" + user + ":p@h:1080"), "(ok)");  // HTTP has no such limit
}

TEST(ProxyUpstream, AnUnresolvableNameFailsClearly) {
  // A name with a character no host name has: glibc's getaddrinfo refuses it
  // without sending a query, so the test needs no network (parse_upstream_url
  // would refuse it first; the parsed URL is changed behind its back).
  auto u = parse_upstream_url("socks5://placeholder:1080");
  ASSERT_TRUE(u);
  u->host = "bad_host_name!";
  auto r = resolve_upstream(*u);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("resolving the proxy host \"bad_host_name!\""), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace cgscope::proxy
