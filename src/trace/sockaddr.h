// Decoding of socket addresses captured from traced programs (connect, bind,
// accept, sendto, ...). The bytes and their length come from the traced program
// and may be anything: these functions read only inside the span they are given
// and render whatever they find, marking what is short instead of guessing.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace cgscope::trace {

// Appends the address as text:
//   AF_INET   "127.0.0.1:80"
//   AF_INET6  "[::1]:80", "[::ffff:10.0.0.1]:80", "[fe80::1%2]:80" (scope id)
//   AF_UNIX   "/run/x.sock", "@abstract", "(unnamed)"
//   others    "family=N"
// Too short for its family: "AF_INET (truncated)"; empty: "(empty)".
// Bytes that are not printable in unix paths are escaped as \xHH, '\' as "\\".
void format_sockaddr(std::string& out, std::span<const uint8_t> raw);

// The same address in parts, for structured (JSON) output.
struct SockaddrView {
  std::string family;   // "AF_INET", "AF_INET6", "AF_UNIX", another AF_ name, or the number; "" if empty
  std::string address;  // "10.0.0.1", "::1", "/run/x.sock", "@name"; "" if unnamed or truncated
  int port = -1;        // AF_INET/AF_INET6 only, else -1
};
SockaddrView decode_sockaddr(std::span<const uint8_t> raw);

}  // namespace cgscope::trace
