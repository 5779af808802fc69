#include "trace/sockaddr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <string>
#include <vector>

namespace cgscope::trace {
namespace {

// The bytes of a struct, as a traced program would pass them.
template <class T>
std::vector<uint8_t> bytes_of(const T& v, size_t len = sizeof(T)) {
  std::vector<uint8_t> b(len);
  std::memcpy(b.data(), &v, std::min(len, sizeof(T)));
  return b;
}

std::vector<uint8_t> in4(const char* addr, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
  return bytes_of(sa);
}

std::vector<uint8_t> in6(const char* addr, uint16_t port, uint32_t scope = 0) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  sa.sin6_scope_id = scope;
  EXPECT_EQ(inet_pton(AF_INET6, addr, &sa.sin6_addr), 1) << addr;
  return bytes_of(sa);
}

// A sockaddr_un of the length the kernel gets for this path: offsetof(sun_path)
// plus the bytes given (abstract names: the leading NUL included, no trailing one).
std::vector<uint8_t> un(std::string_view path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  return bytes_of(sa, offsetof(sockaddr_un, sun_path) + path.size());
}

std::string text(const std::vector<uint8_t>& raw) {
  std::string out;
  format_sockaddr(out, raw);
  return out;
}

std::string text6(const char* addr, uint16_t port = 80) { return text(in6(addr, port)); }

TEST(Sockaddr, Ipv4) {
  EXPECT_EQ(text(in4("127.0.0.1", 80)), "127.0.0.1:80");
  EXPECT_EQ(text(in4("10.96.0.10", 53)), "10.96.0.10:53");
  EXPECT_EQ(text(in4("255.255.255.255", 65535)), "255.255.255.255:65535");
  EXPECT_EQ(text(in4("0.0.0.0", 0)), "0.0.0.0:0");
}

TEST(Sockaddr, Ipv4ShortButComplete) {
  // Family, port and address are all there in 8 bytes; the padding is not needed.
  auto raw = in4("192.168.1.2", 443);
  raw.resize(8);
  EXPECT_EQ(text(raw), "192.168.1.2:443");
}

TEST(Sockaddr, Ipv6) {
  EXPECT_EQ(text6("::1"), "[::1]:80");
  EXPECT_EQ(text6("::"), "[::]:80");
  EXPECT_EQ(text6("::ffff:10.0.0.1"), "[::ffff:10.0.0.1]:80");
  EXPECT_EQ(text6("2001:db8::8:800:200c:417a", 443), "[2001:db8::8:800:200c:417a]:443");
  EXPECT_EQ(text6("fd00::"), "[fd00::]:80");
  EXPECT_EQ(text6("1:2:3:4:5:6:7:8"), "[1:2:3:4:5:6:7:8]:80");
}

TEST(Sockaddr, Ipv6FollowsRfc5952) {
  // A single zero group is not compressed.
  EXPECT_EQ(text6("2001:db8:0:1:1:1:1:1"), "[2001:db8:0:1:1:1:1:1]:80");
  // The longest run is compressed; of equal runs, the first.
  EXPECT_EQ(text6("2001:0:0:1:0:0:0:1"), "[2001:0:0:1::1]:80");
  EXPECT_EQ(text6("2001:db8:0:0:1:0:0:1"), "[2001:db8::1:0:0:1]:80");
  // Lower case, no leading zeros.
  EXPECT_EQ(text6("2001:0DB8:00AB:0000:0000:0000:0000:0001"), "[2001:db8:ab::1]:80");
}

TEST(Sockaddr, Ipv6ScopeId) {
  EXPECT_EQ(text(in6("fe80::1", 22, 2)), "[fe80::1%2]:22");
  // 24 bytes (RFC 2133 length) carries no scope id but is a whole address.
  auto raw = in6("fe80::1", 22, 2);
  raw.resize(24);
  EXPECT_EQ(text(raw), "[fe80::1]:22");
}

TEST(Sockaddr, Unix) {
  EXPECT_EQ(text(un("/run/containerd/containerd.sock")), "/run/containerd/containerd.sock");
  // With the trailing NUL counted in the length, as many programs pass it.
  EXPECT_EQ(text(un(std::string_view("/tmp/x.sock\0", 12))), "/tmp/x.sock");
  EXPECT_EQ(text(un(std::string_view("\0dbus-abc", 9))), "@dbus-abc");
  EXPECT_EQ(text(un("")), "(unnamed)");
  // Abstract names are length-delimited: embedded NULs and odd bytes are shown escaped.
  EXPECT_EQ(text(un(std::string_view("\0a\0b\x7f\\", 6))), "@a\\x00b\\x7f\\\\");
  EXPECT_EQ(text(un("/tmp/\xff")), "/tmp/\\xff");
}

TEST(Sockaddr, UnixPathIsCappedAtSunPath) {
  std::vector<uint8_t> raw(2 + 120, 'a');
  uint16_t family = AF_UNIX;
  std::memcpy(raw.data(), &family, 2);
  EXPECT_EQ(text(raw), std::string(108, 'a'));
}

TEST(Sockaddr, OtherFamilies) {
  sockaddr sa{};
  sa.sa_family = AF_NETLINK;
  EXPECT_EQ(text(bytes_of(sa, 12)), "family=16");
  sa.sa_family = AF_UNSPEC;
  EXPECT_EQ(text(bytes_of(sa, 16)), "family=0");
  sa.sa_family = 0xffff;
  EXPECT_EQ(text(bytes_of(sa, 2)), "family=65535");
}

TEST(Sockaddr, TruncatedAndEmpty) {
  EXPECT_EQ(text({}), "(empty)");
  EXPECT_EQ(text({2}), "(truncated)");
  auto v4 = in4("127.0.0.1", 80);
  v4.resize(7);
  EXPECT_EQ(text(v4), "AF_INET (truncated)");
  auto v6 = in6("::1", 80);
  v6.resize(23);
  EXPECT_EQ(text(v6), "AF_INET6 (truncated)");
}

TEST(Sockaddr, AppendsToExistingText) {
  std::string out = "addr=";
  format_sockaddr(out, in4("127.0.0.1", 8080));
  EXPECT_EQ(out, "addr=127.0.0.1:8080");
}

TEST(Sockaddr, DecodeInet) {
  SockaddrView v = decode_sockaddr(in4("10.0.0.1", 8080));
  EXPECT_EQ(v.family, "AF_INET");
  EXPECT_EQ(v.address, "10.0.0.1");
  EXPECT_EQ(v.port, 8080);
  v = decode_sockaddr(in6("::ffff:10.0.0.1", 443));
  EXPECT_EQ(v.family, "AF_INET6");
  EXPECT_EQ(v.address, "::ffff:10.0.0.1");
  EXPECT_EQ(v.port, 443);
  v = decode_sockaddr(in6("fe80::2", 0, 3));
  EXPECT_EQ(v.address, "fe80::2%3");
  EXPECT_EQ(v.port, 0);
}

TEST(Sockaddr, DecodeUnixAndOthers) {
  SockaddrView v = decode_sockaddr(un("/run/a.sock"));
  EXPECT_EQ(v.family, "AF_UNIX");
  EXPECT_EQ(v.address, "/run/a.sock");
  EXPECT_EQ(v.port, -1);
  v = decode_sockaddr(un(std::string_view("\0abs", 4)));
  EXPECT_EQ(v.address, "@abs");
  v = decode_sockaddr(un(""));
  EXPECT_EQ(v.family, "AF_UNIX");
  EXPECT_EQ(v.address, "");
  sockaddr sa{};
  sa.sa_family = AF_NETLINK;
  v = decode_sockaddr(bytes_of(sa, 12));
  EXPECT_EQ(v.family, "AF_NETLINK");
  EXPECT_EQ(v.address, "");
  EXPECT_EQ(v.port, -1);
  sa.sa_family = 200;
  EXPECT_EQ(decode_sockaddr(bytes_of(sa, 12)).family, "200");
}

TEST(Sockaddr, DecodeTruncatedHasNoPort) {
  auto v4 = in4("127.0.0.1", 80);
  v4.resize(6);
  SockaddrView v = decode_sockaddr(v4);
  EXPECT_EQ(v.family, "AF_INET");
  EXPECT_EQ(v.address, "");
  EXPECT_EQ(v.port, -1);
  v = decode_sockaddr({});
  EXPECT_EQ(v.family, "");
  EXPECT_EQ(v.port, -1);
}

TEST(Sockaddr, NeverReadsPastTheSpan) {
  // Every prefix of every kind of address, each in a buffer of exactly its size
  // (the sanitizer builds turn an over-read into a failure; here the output must
  // at least not change with bytes beyond the span).
  for (const auto& full : {in4("1.2.3.4", 5), in6("fe80::1", 6, 7), un("/a/b/c")}) {
    for (size_t n = 0; n <= full.size(); ++n) {
      std::vector<uint8_t> exact(full.begin(), full.begin() + n);
      std::vector<uint8_t> padded = exact;
      padded.resize(n + 64, 0xee);
      std::string a, b;
      format_sockaddr(a, exact);
      format_sockaddr(b, std::span<const uint8_t>(padded.data(), n));
      EXPECT_EQ(a, b) << n;
      EXPECT_FALSE(a.empty()) << n;
    }
  }
}

}  // namespace
}  // namespace cgscope::trace
