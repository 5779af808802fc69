#include "trace/format.h"

#include <ctime>

#include <fmt/format.h>

#include "core/base64.h"
#include "trace/arg_value.h"
#include "trace/containers.h"
#include "trace/decode_fcntl.h"
#include "trace/decode_select.h"
#include "trace/fast_out.h"
#include "trace/flags.h"
#include "trace/ia32_events.h"
#include "trace/sockaddr.h"
#include "trace/signal_text.h"
#include "trace/syscall_time.h"
#include "trace/format_parts.h"

namespace cgscope::trace {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if the byte there starts none.
// Strict (RFC 3629): no overlong forms (C0 AF), no surrogates (ED A0 80), nothing
// past U+10FFFF; a JSON parser that checks, and Python's, refuse them.
size_t utf8_len(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = at(0);
  size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++)
    if ((at(k) >> 6) != 0x2) return 0;
  // The second byte's range where the lead alone does not rule out a bad form.
  if (c == 0xe0 && at(1) < 0xa0) return 0;   // overlong 3-byte
  if (c == 0xed && at(1) > 0x9f) return 0;   // surrogates D800-DFFF
  if (c == 0xf0 && at(1) < 0x90) return 0;   // overlong 4-byte
  if (c == 0xf4 && at(1) > 0x8f) return 0;   // past U+10FFFF
  return n;
}

}  // namespace

bool append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  bool invalid = false;
  for (size_t i = 0; i < s.size();) {
    // Plain printable ASCII (nearly every path) is copied in one piece.
    size_t run = i;
    while (run < s.size()) {
      auto b = static_cast<unsigned char>(s[run]);
      if (b < 0x20 || b >= 0x7f || b == '"' || b == '\\') break;
      run++;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      i++;
    } else if (c == '\n') {
      out += "\\n";
      i++;
    } else if (c == '\t') {
      out += "\\t";
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xf];
      i++;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      i++;
    } else if (size_t n = utf8_len(s, i); n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      // Not UTF-8: shown as the four characters \xHH, and the caller adds the
      // exact bytes in a `_raw` companion (docs/trace-events.md).
      out += "\\\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
      invalid = true;
      i++;
    }
  }
  return invalid;
}

namespace format_parts {

bool append_list(std::string& out, const VarSection& var, std::string_view sep, std::string_view quote) {
  out += '[';
  bool first = true, invalid = false;
  auto item = [&](std::string_view s, bool cut) {
    if (!first) out += sep;
    first = false;
    out += quote;
    invalid |= append_json_escaped(out, s);
    if (cut && !quote.empty()) out += "...";
    out += quote;
    if (cut && quote.empty()) out += "...";
  };
  if (for_each_element(var, item)) item("...", false);
  out += ']';
  return invalid;
}

bool append_ret_name(std::string& out, const EventView& ev) {
  if (!has_ret_name(ev) || is_error(ev)) return false;
  if (ev.desc->ret == RetFormat::select) {
    const VarSection& call = ev.rec->call_section;
    return call.present && call.kind == CGS_ARG_SELECT &&
           append_select_ret(out, call.data, ev.ret, ev.rec->hdr->nr == CGS_NR_PSELECT6);
  }
  uint8_t cmd = ev.desc->ret_ctx_arg;
  return cmd < CGS_NARGS && format_fcntl_ret(out, ev.rec->hdr->args[cmd], ev.ret);
}

}  // namespace format_parts

}  // namespace cgscope::trace
