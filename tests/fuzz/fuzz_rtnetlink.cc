// rtnetlink replies are the kernel's, but they are parsed from raw bytes: any
// datagram must give messages, an error or "more", never a crash or an overread
// (ASan). The first 4 bytes are the sequence number the reply is read for.
#include <linux/rtnetlink.h>

#include <cstdint>
#include <cstring>

#include "core/rtnetlink.h"

using namespace cgscope::rtnl;

namespace {

void check_rule(const Rule& r) {
  if (address_size(r.family) == 0) __builtin_trap();
  // What was parsed, built into a request and parsed again, is the same rule.
  auto again_msg = rule_request(RTM_NEWRULE, 1, r);
  Message m{RTM_NEWRULE, 0, 1, std::span<const uint8_t>(again_msg).subspan(sizeof(nlmsghdr))};
  auto again = parse_rule(m);
  if (!again || again->priority != r.priority || again->table != r.table || again->protocol != r.protocol ||
      ((r.fwmark || r.fwmask) && (again->fwmark != r.fwmark || again->fwmask != r.fwmask)))
    __builtin_trap();
}

void check_route(const Route& r) {
  size_t bytes = address_size(r.family);
  if (bytes == 0 || r.dst_len > bytes * 8) __builtin_trap();
  if (r.gateway && r.gateway->family != r.family) __builtin_trap();
  if (r.dst.family != 0 && r.dst.family != r.family) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t seq;
  std::memcpy(&seq, data, 4);
  std::span<const uint8_t> datagram(data + 4, size - 4);
  auto st = read_reply(datagram, seq, [](const Message& m) {
    if (auto r = parse_rule(m)) check_rule(*r);
    if (auto r = parse_route(m)) check_route(*r);
  });
  if (!st && st.error().message.empty()) __builtin_trap();
  return 0;
}
