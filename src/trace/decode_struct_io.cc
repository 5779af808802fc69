// Event and signal structs: pollfd arrays, iovecs, epoll events, sigaction,
// clone_args (x86_64 layouts: asm-generic/poll.h, linux/uio.h, linux/eventpoll.h
// (packed), asm/signal.h's kernel sigaction, linux/sched.h).
#include <array>
#include <optional>

#include "trace/decode_struct.h"
#include "trace/flags.h"
#include "trace/named.h"
#include "trace/struct_bytes.h"

namespace cgscope::trace {
namespace {

using named::Named;

constexpr std::array<Named, 13> kPollEvents = {{
    {0x1, "POLLIN"},        {0x2, "POLLPRI"},       {0x4, "POLLOUT"},    {0x8, "POLLERR"},
    {0x10, "POLLHUP"},      {0x20, "POLLNVAL"},     {0x40, "POLLRDNORM"}, {0x80, "POLLRDBAND"},
    {0x100, "POLLWRNORM"},  {0x200, "POLLWRBAND"},  {0x400, "POLLMSG"},  {0x1000, "POLLREMOVE"},
    {0x2000, "POLLRDHUP"},
}};

constexpr std::array<Named, 16> kEpollEvents = {{
    {0x1, "EPOLLIN"},         {0x2, "EPOLLPRI"},          {0x4, "EPOLLOUT"},          {0x8, "EPOLLERR"},
    {0x10, "EPOLLHUP"},       {0x20, "EPOLLNVAL"},        {0x40, "EPOLLRDNORM"},      {0x80, "EPOLLRDBAND"},
    {0x100, "EPOLLWRNORM"},   {0x200, "EPOLLWRBAND"},     {0x400, "EPOLLMSG"},        {0x2000, "EPOLLRDHUP"},
    {1u << 28, "EPOLLEXCLUSIVE"}, {1u << 29, "EPOLLWAKEUP"}, {1u << 30, "EPOLLONESHOT"}, {1u << 31, "EPOLLET"},
}};

// In the order strace prints them.
constexpr std::array<Named, 10> kSaFlags = {{
    {0x04000000, "SA_RESTORER"}, {0x08000000, "SA_ONSTACK"}, {0x10000000, "SA_RESTART"},
    {0x40000000, "SA_NODEFER"},  {0x80000000, "SA_RESETHAND"}, {0x4, "SA_SIGINFO"},
    {0x1, "SA_NOCLDSTOP"},       {0x2, "SA_NOCLDWAIT"},       {0x400, "SA_UNSUPPORTED"},
    {0x800, "SA_EXPOSE_TAGBITS"},
}};
constexpr uint64_t kSaRestorer = 0x04000000;

void poll_events_field(StructOut& o, std::string_view name, uint16_t v) {
  o.key(name);
  o.sym([&](std::string& out) { named::append_flags(out, v, kPollEvents); });
}

void epoll_one(StructOut& o, std::span<const uint8_t> d, size_t off) {
  uint64_t data = field<uint64_t>(d, off + 4);
  o.open_obj();
  o.key("events");
  o.sym([&](std::string& out) { named::append_flags(out, field<uint32_t>(d, off), kEpollEvents); });
  o.key("data");
  o.open_obj();
  o.key("u32");
  o.unum(static_cast<uint32_t>(data));
  o.key("u64");
  o.unum(data);
  o.close_obj();
  o.close_obj();
}

// A signal in a set, as strace writes it there: without "SIG", real-time
// signals as RTMIN (32) and RT_n (32 + n).
void append_set_signal(std::string& out, int sig) {
  if (sig == 32) {
    out += "RTMIN";
  } else if (sig > 32) {
    out += "RT_";
    named::append_dec(out, sig - 32);
  } else {
    std::string_view name = signal_name(sig);
    if (name.substr(0, 3) == "SIG") name.remove_prefix(3);
    if (name.empty()) named::append_dec(out, sig);
    else out += name;
  }
}

// A 64-signal set: "[INT QUIT]", or "~[RTMIN RT_1]" (the signals not in it) when
// it holds more than half of them, as strace prints it.
void append_sigset(std::string& out, uint64_t mask) {
  bool inverted = __builtin_popcountll(mask) > 32;
  if (inverted) {
    out += '~';
    mask = ~mask;
  }
  out += '[';
  bool first = true;
  for (int sig = 1; sig <= 64; sig++) {
    if (!(mask & (uint64_t{1} << (sig - 1)))) continue;
    if (!first) out += ' ';
    first = false;
    append_set_signal(out, sig);
  }
  out += ']';
}

void append_handler(std::string& out, uint64_t h) {
  if (h == 0) out += "SIG_DFL";
  else if (h == 1) out += "SIG_IGN";
  else if (h == static_cast<uint64_t>(-1)) out += "SIG_ERR";
  else named::append_hex(out, h);
}

void hex_field(StructOut& o, std::string_view name, uint64_t v) {
  o.key(name);
  if (v == 0) o.num(0);
  else o.hex(v);
}

// An element's contents, where the kernel kept them: strace's iov_base="..."
// in text; in JSON iov_base stays the address, and iov_data holds the bytes.
void iov_base_field(StructOut& o, uint64_t base, const std::optional<IovElement>& data) {
  if (base == 0) {  // NULL, as strace shows it, and no bytes to show
    o.key("iov_base");
    return o.null();
  }
  if (data && !o.json()) {
    o.key("iov_base");
    o.bytes(data->bytes, data->cut);
    return;
  }
  hex_field(o, "iov_base", base);
  if (!data) return;
  o.key("iov_data");
  if (o.bytes(data->bytes, data->cut)) {
    o.key("iov_data_raw");
    o.raw(data->bytes);
  }
}

}  // namespace

bool decode_pollfds(StructOut& o, std::span<const uint8_t> d, int64_t ret, bool cut) {
  o.open_arr();
  for (size_t off = 0; off + 8 <= d.size(); off += 8) {
    o.open_obj();
    o.key("fd");
    o.num(field<int32_t>(d, off));
    poll_events_field(o, "events", field<uint16_t>(d, off + 4));
    // What the call found is in the JSON; the table shows the arguments as they went in.
    if (o.json() && ret >= 0) poll_events_field(o, "revents", field<uint16_t>(d, off + 6));
    o.close_obj();
  }
  o.close_arr(cut);
  return true;
}

bool decode_iovecs(StructOut& o, std::span<const uint8_t> d, bool cut, const IovData* data) {
  o.open_arr();
  for (size_t off = 0, i = 0; off + 16 <= d.size(); off += 16, i++) {
    o.open_obj();
    iov_base_field(o, field<uint64_t>(d, off), data ? data->element(i) : std::nullopt);
    o.key("iov_len");
    o.unum(field<uint64_t>(d, off + 8));
    o.close_obj();
  }
  o.close_arr(cut);
  return true;
}

bool decode_epoll_event(StructOut& o, std::span<const uint8_t> d) {
  if (d.size() < 12) return false;
  epoll_one(o, d, 0);
  return true;
}

bool decode_epoll_events(StructOut& o, std::span<const uint8_t> d, bool cut) {
  o.open_arr();
  for (size_t off = 0; off + 12 <= d.size(); off += 12) epoll_one(o, d, off);
  o.close_arr(cut);
  return true;
}

bool decode_sigaction(StructOut& o, std::span<const uint8_t> d) {
  if (d.size() < 32) return false;
  uint64_t handler = field<uint64_t>(d, 0), flags = field<uint64_t>(d, 8);
  o.open_obj();
  o.key("sa_handler");
  o.sym([&](std::string& out) { append_handler(out, handler); });
  o.key("sa_mask");
  o.sym([&](std::string& out) { append_sigset(out, field<uint64_t>(d, 24)); });
  o.key("sa_flags");
  o.sym([&](std::string& out) { named::append_flags(out, flags, kSaFlags); });
  if (flags & kSaRestorer) {
    o.key("sa_restorer");
    o.hex(field<uint64_t>(d, 16));
  }
  o.close_obj();
  return true;
}

// The fields strace shows: flags, exit_signal, stack and stack_size always, the
// others when set.
bool decode_clone_args(StructOut& o, std::span<const uint8_t> d) {
  if (d.size() < 88) return false;
  auto at = [&](size_t i) { return field<uint64_t>(d, i * 8); };
  o.open_obj();
  o.key("flags");
  o.sym([&](std::string& out) { format_clone_flags(out, at(0)); });
  static constexpr std::array<std::string_view, 3> kPtrs = {"pidfd", "child_tid", "parent_tid"};
  for (size_t i = 0; i < kPtrs.size(); i++)
    if (at(1 + i)) hex_field(o, kPtrs[i], at(1 + i));
  o.key("exit_signal");
  o.sym([&](std::string& out) { format_signal(out, at(4)); });
  hex_field(o, "stack", at(5));
  hex_field(o, "stack_size", at(6));
  if (at(7)) hex_field(o, "tls", at(7));
  if (at(8)) hex_field(o, "set_tid", at(8));
  if (at(9)) {
    o.key("set_tid_size");
    o.unum(at(9));
  }
  if (at(10)) {
    o.key("cgroup");
    o.unum(at(10));
  }
  o.close_obj();
  return true;
}

}  // namespace cgscope::trace
