// Appending the fixed parts of an output line (field names, numbers, a short
// plain name) without a capacity check, a strlen and a call per piece: the
// writer grows the buffer once by a bound it knows, writes through a pointer, and
// gives back what it did not use. On the drain path this halves the instructions
// of a JSON line (callgrind: std::string::append was a third of append_json).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace cgscope::trace {

class FastOut {
 public:
  // Room for `bound` bytes past the end of `s`; nothing else may touch `s` until
  // this is destroyed.
  FastOut(std::string& s, size_t bound) : s_(s), at_(s.size()) {
    s_.resize(at_ + bound);
    p_ = s_.data() + at_;
  }
  ~FastOut() { s_.resize(size_t(p_ - s_.data())); }
  FastOut(const FastOut&) = delete;
  FastOut& operator=(const FastOut&) = delete;

  // A string literal: its length is known when compiled, so this is a few moves.
  template <size_t N>
  void lit(const char (&t)[N]) {
    std::memcpy(p_, t, N - 1);
    p_ += N - 1;
  }
  void ch(char c) { *p_++ = c; }
  void bytes(std::string_view v) {
    std::memcpy(p_, v.data(), v.size());
    p_ += v.size();
  }
  // A number in decimal.
  template <class T>
  void dec(T v) {
    static_assert(std::is_integral_v<T>);
    if constexpr (std::is_signed_v<T>) {
      if (v < 0) {
        *p_++ = '-';
        put_u64(uint64_t(0) - uint64_t(v));  // well defined for the most negative value too
        return;
      }
    }
    put_u64(uint64_t(v));
  }

  // v < 10^9 as exactly nine digits, zeros in front (the nanoseconds of a second).
  void dec_padded9(uint32_t v) {
    char* q = p_ + 9;
    for (int i = 0; i < 4; i++) {
      q -= 2;
      std::memcpy(q, kPairs + (v % 100) * 2, 2);
      v /= 100;
    }
    *--q = char('0' + v % 10);
    p_ += 9;
  }

  // The most bytes dec() writes for any 64-bit value ("-9223372036854775808").
  static constexpr size_t kDecMax = 20;

  // Decimal digits of v (1 for 0): from its bit length, then one comparison.
  static unsigned digits(uint64_t v);

 private:
  // v in decimal, written in place two digits at a time (fmt::format_int writes
  // into its own buffer, which then has to be copied).
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";

  void put_u64(uint64_t v) {
    char* end = p_ + digits(v);
    char* q = end;
    while (v >= 100) {
      q -= 2;
      std::memcpy(q, kPairs + (v % 100) * 2, 2);
      v /= 100;
    }
    if (v >= 10) {
      q -= 2;
      std::memcpy(q, kPairs + v * 2, 2);
    } else {
      *--q = char('0' + v);
    }
    p_ = end;
  }

  std::string& s_;
  size_t at_;
  char* p_;
};

inline unsigned FastOut::digits(uint64_t v) {
  static constexpr uint64_t kPow10[] = {1ull,
                                        10ull,
                                        100ull,
                                        1000ull,
                                        10000ull,
                                        100000ull,
                                        1000000ull,
                                        10000000ull,
                                        100000000ull,
                                        1000000000ull,
                                        10000000000ull,
                                        100000000000ull,
                                        1000000000000ull,
                                        10000000000000ull,
                                        100000000000000ull,
                                        1000000000000000ull,
                                        10000000000000000ull,
                                        100000000000000000ull,
                                        1000000000000000000ull,
                                        10000000000000000000ull};
  // floor(log10(2) * bits) is the digit count or one less (1233/4096 ~ log10 2).
  if (v < 10) return 1;
  unsigned bits = 64 - unsigned(__builtin_clzll(v));
  unsigned t = (bits * 1233) >> 12;
  return t + (v >= kPow10[t]);
}

// A string literal appended without strlen.
template <size_t N>
void append_lit(std::string& out, const char (&t)[N]) {
  out.append(t, N - 1);
}

// Whether `s` needs nothing escaped in a JSON string or a table cell: printable
// ASCII only, no quote, no backslash. Most names (comm, syscall names) are.
inline bool plain_ascii(std::string_view s) {
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7f || b == '"' || b == '\\') return false;
  }
  return true;
}

}  // namespace cgscope::trace
