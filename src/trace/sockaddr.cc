// Layouts are those of <netinet/in.h> and <sys/un.h>, read field by field at
// fixed offsets with bounds checks rather than by casting the bytes to the
// structs: the span may be shorter than the struct its family promises.
#include "trace/sockaddr.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <charconv>
#include <cstddef>
#include <cstring>

#include "trace/flags.h"

namespace cgscope::trace {
namespace {

// Offsets and sizes the decoder depends on; checked against the C library's structs.
constexpr size_t kFamilyLen = 2;
constexpr size_t kInPortOff = 2;
constexpr size_t kInAddrOff = 4;
constexpr size_t kInMinLen = kInAddrOff + 4;
constexpr size_t kIn6PortOff = 2;
constexpr size_t kIn6AddrOff = 8;
constexpr size_t kIn6MinLen = kIn6AddrOff + 16;  // the kernel's SIN6_LEN_RFC2133
constexpr size_t kIn6ScopeOff = 24;
constexpr size_t kUnPathOff = 2;
constexpr size_t kUnPathMax = sizeof(sockaddr_un::sun_path);
static_assert(offsetof(sockaddr_in, sin_port) == kInPortOff);
static_assert(offsetof(sockaddr_in, sin_addr) == kInAddrOff);
static_assert(offsetof(sockaddr_in6, sin6_port) == kIn6PortOff);
static_assert(offsetof(sockaddr_in6, sin6_addr) == kIn6AddrOff);
static_assert(offsetof(sockaddr_in6, sin6_scope_id) == kIn6ScopeOff);
static_assert(offsetof(sockaddr_un, sun_path) == kUnPathOff);
static_assert(kUnPathMax == 108);

enum class Kind { empty, truncated, inet, inet6, unix_named, unix_unnamed, other };

struct Parsed {
  Kind kind = Kind::empty;
  int family = -1;
  int port = -1;
  std::span<const uint8_t> addr;  // inet: 4 bytes, inet6: 16, unix: the path (abstract: with its NUL)
  uint32_t scope_id = 0;
};

Parsed parse(std::span<const uint8_t> raw) {
  Parsed p;
  if (raw.empty()) return p;
  if (raw.size() < kFamilyLen) {
    p.kind = Kind::truncated;
    return p;
  }
  uint16_t family;
  std::memcpy(&family, raw.data(), sizeof family);  // host order, as sa_family_t is
  p.family = family;
  switch (family) {
    case AF_INET:
      if (raw.size() < kInMinLen) {
        p.kind = Kind::truncated;
        return p;
      }
      p.kind = Kind::inet;
      p.port = raw[kInPortOff] << 8 | raw[kInPortOff + 1];  // network order
      p.addr = raw.subspan(kInAddrOff, 4);
      return p;
    case AF_INET6:
      if (raw.size() < kIn6MinLen) {
        p.kind = Kind::truncated;
        return p;
      }
      p.kind = Kind::inet6;
      p.port = raw[kIn6PortOff] << 8 | raw[kIn6PortOff + 1];
      p.addr = raw.subspan(kIn6AddrOff, 16);
      if (raw.size() >= kIn6ScopeOff + sizeof p.scope_id) {
        std::memcpy(&p.scope_id, raw.data() + kIn6ScopeOff, sizeof p.scope_id);  // host order
      }
      return p;
    case AF_UNIX: {
      auto path = raw.subspan(kUnPathOff);
      if (path.size() > kUnPathMax) path = path.first(kUnPathMax);
      if (path.empty()) {
        p.kind = Kind::unix_unnamed;
        return p;
      }
      if (path[0] != 0) {  // a filesystem path ends at its first NUL, if any
        size_t n = 0;
        while (n < path.size() && path[n] != 0) ++n;
        path = path.first(n);
      }  // an abstract name is all the bytes the length gives, NULs included
      p.kind = Kind::unix_named;
      p.addr = path;
      return p;
    }
    default:
      p.kind = Kind::other;
      return p;
  }
}

void append_uint(std::string& out, uint64_t v, int base = 10) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v, base);
  out.append(buf, r.ptr);
}

void append_ipv4(std::string& out, std::span<const uint8_t> a) {
  for (size_t i = 0; i < 4; ++i) {
    if (i) out += '.';
    append_uint(out, a[i]);
  }
}

// RFC 5952 text: lower-case hex without leading zeros, the longest run of two or
// more zero groups (the first of equal runs) as "::", IPv4-mapped as ::ffff:a.b.c.d.
void append_ipv6(std::string& out, std::span<const uint8_t> a) {
  uint16_t w[8];
  for (size_t i = 0; i < 8; ++i) w[i] = static_cast<uint16_t>(a[2 * i] << 8 | a[2 * i + 1]);
  bool mapped = w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0xffff;
  if (mapped) {
    out += "::ffff:";
    append_ipv4(out, a.subspan(12, 4));
    return;
  }
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best = -1;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best + best_len) out += ':';
    append_uint(out, w[i], 16);
  }
}

void append_escaped(std::string& out, std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (uint8_t c : bytes) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
}

// The address part alone: no port, no brackets.
void append_address(std::string& out, const Parsed& p) {
  switch (p.kind) {
    case Kind::inet:
      append_ipv4(out, p.addr);
      break;
    case Kind::inet6:
      append_ipv6(out, p.addr);
      if (p.scope_id != 0) {
        out += '%';
        append_uint(out, p.scope_id);
      }
      break;
    case Kind::unix_named:
      if (p.addr[0] == 0) {
        out += '@';
        append_escaped(out, p.addr.subspan(1));
      } else {
        append_escaped(out, p.addr);
      }
      break;
    default:
      break;
  }
}

void append_family(std::string& out, int family) {
  std::string_view name = socket_domain_name(family);
  if (name.empty()) {
    append_uint(out, static_cast<uint64_t>(family));
  } else {
    out += name;
  }
}

}  // namespace

void format_sockaddr(std::string& out, std::span<const uint8_t> raw) {
  Parsed p = parse(raw);
  switch (p.kind) {
    case Kind::empty:
      out += "(empty)";
      return;
    case Kind::truncated:
      if (p.family >= 0) {
        append_family(out, p.family);
        out += ' ';
      }
      out += "(truncated)";
      return;
    case Kind::inet:
      append_address(out, p);
      out += ':';
      append_uint(out, static_cast<uint64_t>(p.port));
      return;
    case Kind::inet6:
      out += '[';
      append_address(out, p);
      out += "]:";
      append_uint(out, static_cast<uint64_t>(p.port));
      return;
    case Kind::unix_named:
      append_address(out, p);
      return;
    case Kind::unix_unnamed:
      out += "(unnamed)";
      return;
    case Kind::other:
      out += "family=";
      append_uint(out, static_cast<uint64_t>(p.family));
      return;
  }
}

SockaddrView decode_sockaddr(std::span<const uint8_t> raw) {
  Parsed p = parse(raw);
  SockaddrView v;
  if (p.family >= 0) append_family(v.family, p.family);
  append_address(v.address, p);
  v.port = p.port;
  return v;
}

}  // namespace cgscope::trace
