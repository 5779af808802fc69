// What every name formatter shares: a table entry built from a header's macro
// (NAMED(x) gives the value and its spelling, so values are the headers' own),
// and appenders that write to a caller-owned string without allocating beyond it.
// Internal to the decoders (flags.cc, decode_*.cc).
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace cgscope::trace::named {

#define NAMED(x) ::cgscope::trace::named::Named{static_cast<uint64_t>(x), #x}

struct Named {
  uint64_t value;
  std::string_view name;
};

inline void append_dec(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

inline void append_hex(std::string& out, uint64_t v) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, v, 16);
  out += "0x";
  out.append(buf, r.ptr);
}

inline void append_sep(std::string& out, bool& first) {
  if (!first) out += '|';
  first = false;
}

// Appends the name of each entry whose bits are all set in `rest`, in table order,
// and clears them. Multi-bit entries (O_SYNC, O_TMPFILE) precede their sub-bits.
inline void append_bits(std::string& out, uint64_t& rest, bool& first, std::span<const Named> table) {
  for (const Named& e : table) {
    if (e.value != 0 && (rest & e.value) == e.value) {
      append_sep(out, first);
      out += e.name;
      rest &= ~e.value;
    }
  }
}

// What no entry named, as one trailing hex word.
inline void append_rest(std::string& out, uint64_t rest, bool& first) {
  if (rest == 0) return;
  append_sep(out, first);
  append_hex(out, rest);
}

// A flag word: the named bits joined with '|', unknown bits in hex, `zero` for 0.
inline void append_flags(std::string& out, uint64_t v, std::span<const Named> table, std::string_view zero = "0") {
  if (v == 0) {
    out += zero;
    return;
  }
  bool first = true;
  append_bits(out, v, first, table);
  append_rest(out, v, first);
}

// The name of an enum value, or empty.
inline std::string_view find_name(uint64_t v, std::span<const Named> table) {
  for (const Named& e : table)
    if (e.value == v) return e.name;
  return {};
}

// An enum: its name, or the number (signed, as the kernel's int) when it has none.
inline void append_enum(std::string& out, uint64_t v, std::span<const Named> table) {
  std::string_view name = find_name(v, table);
  if (name.empty()) append_dec(out, static_cast<int32_t>(static_cast<uint32_t>(v)));
  else out += name;
}

}  // namespace cgscope::trace::named
