#include "trace/decode_select.h"

#include <cstring>
#include <optional>

#include "cgscope/abi/trace.h"
#include "trace/named.h"

namespace cgscope::trace {
namespace {

std::optional<cgs_select> section(std::span<const uint8_t> d) {
  if (d.size() < sizeof(cgs_select)) return std::nullopt;
  cgs_select s;
  std::memcpy(&s, d.data(), sizeof s);
  return s;
}

// The fds of set i below nfds (bits past it are whatever the program's memory
// held), as fn(fd); returns whether nfds went past what the kernel kept.
template <class Fn>
bool for_each_fd(const cgs_select_part& p, int i, Fn&& fn) {
  uint32_t n = p.nfds < CGS_SELECT_WORDS * 64 ? p.nfds : CGS_SELECT_WORDS * 64;
  for (uint32_t fd = 0; fd < n; fd++)
    if (p.sets[i][fd / 64] & (uint64_t{1} << (fd % 64))) fn(fd);
  return p.flags & CGS_SEL_NFDS_CUT;
}

// strace's "[3 4]" (JSON: [3,4]); a set cut at FD_SETSIZE ends in "...".
void fd_set_value(StructOut& o, const cgs_select_part& p, int i) {
  if (o.json()) {
    o.open_arr();
    o.close_arr(for_each_fd(p, i, [&](uint32_t fd) { o.unum(fd); }));
    return;
  }
  o.sym([&](std::string& out) {
    out += '[';
    bool first = true;
    bool cut = for_each_fd(p, i, [&](uint32_t fd) {
      if (!first) out += ' ';
      first = false;
      named::append_dec(out, int64_t{fd});
    });
    if (cut) out += first ? "..." : " ...";
    out += ']';
  });
}

void timeout_value(StructOut& o, const cgs_select_part& p, bool timespec) {
  o.open_obj();
  o.key("tv_sec");
  o.num(static_cast<int64_t>(p.timeout[0]));
  o.key(timespec ? "tv_nsec" : "tv_usec");
  o.num(static_cast<int64_t>(p.timeout[1]));
  o.close_obj();
}

}  // namespace

bool decode_select_arg(StructOut& o, ArgFormat f, std::span<const uint8_t> d) {
  auto s = section(d);
  if (!s || !s->have_entry) return false;
  const cgs_select_part& in = s->in;
  switch (f) {
    case ArgFormat::fd_set_read:
    case ArgFormat::fd_set_write:
    case ArgFormat::fd_set_except: {
      int i = f == ArgFormat::fd_set_read ? 0 : f == ArgFormat::fd_set_write ? 1 : 2;
      if (!(in.flags & CGS_SEL_SET(i))) return false;
      fd_set_value(o, in, i);
      return true;
    }
    case ArgFormat::select_timeval:
    case ArgFormat::select_timespec:
      if (!(in.flags & CGS_SEL_TIMEOUT)) return false;
      timeout_value(o, in, f == ArgFormat::select_timespec);
      return true;
    default:
      return false;
  }
}

bool append_select_ret(std::string& out, std::span<const uint8_t> d, int64_t ret, bool timespec) {
  auto s = section(d);
  if (!s || ret < 0) return false;
  if (ret == 0) {
    out += "Timeout";
    return true;
  }
  static constexpr const char* kNames[] = {"in", "out", "except"};
  const cgs_select_part& p = s->out;
  size_t at = out.size();
  for (int i = 0; i < 3; i++) {
    if (!(p.flags & CGS_SEL_SET(i))) continue;
    bool any = false;
    bool cut = for_each_fd(p, i, [&](uint32_t) { any = true; });
    if (!any && !cut) continue;  // a cut one is shown (the kernel counted it)
    if (out.size() > at) out += ", ";
    out += kNames[i];
    out += ' ';
    StructOut one(out, false);
    fd_set_value(one, p, i);
  }
  if (p.flags & CGS_SEL_TIMEOUT) {
    if (out.size() > at) out += ", ";
    out += "left ";
    StructOut one(out, false);
    timeout_value(one, p, timespec);
  }
  return out.size() > at;
}

}  // namespace cgscope::trace
