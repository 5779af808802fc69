#include "proxy/dns_message.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace cgscope::proxy {
namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kTypeA = 1, kTypeAAAA = 28, kClassIN = 1;

uint16_t u16(std::string_view m, size_t at) { return uint16_t((uint8_t(m[at]) << 8) | uint8_t(m[at + 1])); }
uint32_t u32(std::string_view m, size_t at) { return (uint32_t(u16(m, at)) << 16) | u16(m, at + 2); }

// Reads the name at `at` (following compression pointers, at most 32 of them),
// leaving `at` after the name as it appears in place. False when malformed.
bool read_name(std::string_view m, size_t& at, std::string& out) {
  size_t pos = at;
  bool jumped = false;
  out.clear();
  for (int hops = 0; hops < 32;) {
    if (pos >= m.size()) return false;
    uint8_t len = uint8_t(m[pos]);
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= m.size()) return false;
      size_t target = ((len & 0x3f) << 8) | uint8_t(m[pos + 1]);
      if (!jumped) at = pos + 2;
      jumped = true;
      pos = target;
      hops++;
      continue;
    }
    if (len & 0xc0) return false;  // the reserved label kinds
    if (len == 0) {
      if (!jumped) at = pos + 1;
      if (out.empty()) out.push_back('.');
      return true;
    }
    if (pos + 1 + len > m.size() || out.size() + len + 1 > 255) return false;
    if (!out.empty()) out += '.';
    out.append(m.substr(pos + 1, len));
    pos += 1 + len;
  }
  return false;
}

}  // namespace

std::optional<DnsQuestion> parse_dns_question(std::string_view m) {
  if (m.size() < kHeader || u16(m, 4) == 0) return std::nullopt;
  DnsQuestion q;
  q.id = u16(m, 0);
  size_t at = kHeader;
  if (!read_name(m, at, q.name) || at + 4 > m.size()) return std::nullopt;
  q.type = u16(m, at);
  return q;
}

// A host name as a resolver may ask for one (letters, digits, '-', '_', '.'),
// so that a name from the network can be sent to an upstream as it is.
bool plain_host_name(std::string_view n) {
  if (n.empty() || n.size() > 253) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

std::optional<DnsAnswers> parse_dns_answers(std::string_view m) {
  if (m.size() < kHeader || !(uint8_t(m[2]) & 0x80)) return std::nullopt;  // QR: a reply
  uint16_t qd = u16(m, 4), an = u16(m, 6);
  DnsAnswers out;
  size_t at = kHeader;
  std::string name;
  for (uint16_t i = 0; i < qd; i++) {
    if (!read_name(m, at, name) || at + 4 > m.size()) return std::nullopt;
    if (i == 0) out.name = name;
    at += 4;
  }
  for (uint16_t i = 0; i < an; i++) {
    if (!read_name(m, at, name) || at + 10 > m.size()) return std::nullopt;
    uint16_t type = u16(m, at), cls = u16(m, at + 2), rdlen = u16(m, at + 8);
    uint32_t ttl = u32(m, at + 4);
    at += 10;
    if (at + rdlen > m.size()) return std::nullopt;
    char text[INET6_ADDRSTRLEN] = "";
    if (cls == kClassIN && ((type == kTypeA && rdlen == 4) || (type == kTypeAAAA && rdlen == 16)) &&
        inet_ntop(type == kTypeA ? AF_INET : AF_INET6, m.data() + at, text, sizeof text))
      out.addresses.push_back({text, ttl});
    at += rdlen;
  }
  return out;
}

size_t dns_udp_limit(std::string_view m) {
  constexpr size_t kClassic = 512;
  if (m.size() < kHeader) return kClassic;
  uint16_t qd = u16(m, 4), an = u16(m, 6), ns = u16(m, 8), ar = u16(m, 10);
  size_t at = kHeader;
  std::string name;
  for (uint16_t i = 0; i < qd; i++) {
    if (!read_name(m, at, name) || at + 4 > m.size()) return kClassic;
    at += 4;
  }
  for (uint32_t i = 0; i < uint32_t(an) + ns + ar; i++) {
    if (!read_name(m, at, name) || at + 10 > m.size()) return kClassic;
    uint16_t type = u16(m, at), cls = u16(m, at + 2), rdlen = u16(m, at + 8);
    if (type == 41) return std::max<size_t>(cls, kClassic);  // OPT: CLASS is the size
    at += 10 + rdlen;
  }
  return kClassic;
}

std::string dns_truncated(std::string_view m) {
  if (m.size() < kHeader) return "";
  size_t at = kHeader;
  std::string name;
  for (uint16_t i = 0; i < u16(m, 4); i++) {
    if (!read_name(m, at, name) || at + 4 > m.size()) return "";
    at += 4;
  }
  std::string out(m.substr(0, at));
  out[2] = char(out[2] | 0x02);  // TC
  for (size_t i = 6; i < 12; i++) out[i] = 0;  // no answer, authority or additional records
  return out;
}

}  // namespace cgscope::proxy
