#include "core/rtnetlink.h"

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace cgscope::rtnl {
namespace {

constexpr size_t align4(size_t n) { return (n + 3) & ~size_t(3); }
constexpr size_t kReceiveBuffer = 64 * 1024;  // more than a dump datagram the kernel fills (32 KiB at most)

// A request: nlmsghdr, the family header, then attributes, each 4-byte aligned.
class Builder {
 public:
  Builder(uint16_t type, uint16_t flags, uint32_t seq) : buf_(sizeof(nlmsghdr)) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    std::memcpy(buf_.data(), &h, sizeof h);
  }
  void bytes(const void* data, size_t len) {
    const auto* p = static_cast<const uint8_t*>(data);
    buf_.insert(buf_.end(), p, p + len);
    buf_.resize(align4(buf_.size()));
  }
  void attr(uint16_t type, const void* data, size_t len) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    bytes(&a, sizeof a);
    bytes(data, len);
  }
  void attr32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
  std::vector<uint8_t> finish() {
    uint32_t len = static_cast<uint32_t>(buf_.size());
    std::memcpy(buf_.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
    return std::move(buf_);
  }

 private:
  std::vector<uint8_t> buf_;
};

uint16_t change_flags(uint16_t type) {
  bool create = type == RTM_NEWRULE || type == RTM_NEWROUTE;
  // EXCL: an equal rule or route already there is a refusal, not a silent success.
  return NLM_F_REQUEST | NLM_F_ACK | (create ? NLM_F_CREATE | NLM_F_EXCL : 0);
}

// The table field of the fixed headers holds 8 bits; larger ids go in an attribute.
uint8_t table_byte(uint32_t table) { return table < 256 ? uint8_t(table) : uint8_t(RT_TABLE_UNSPEC); }

template <class T>
bool read_struct(std::span<const uint8_t> s, T& out) {
  if (s.size() < sizeof(T)) return false;
  std::memcpy(&out, s.data(), sizeof(T));
  return true;
}

using AttrReader = std::function<bool(uint16_t type, std::span<const uint8_t> data)>;

// Calls fn for each attribute of `s`; false when one is malformed or fn says so.
bool for_each_attr(std::span<const uint8_t> s, const AttrReader& fn) {
  while (s.size() >= sizeof(rtattr)) {
    rtattr a;
    std::memcpy(&a, s.data(), sizeof a);
    if (a.rta_len < sizeof a || a.rta_len > s.size()) return false;
    if (!fn(a.rta_type & NLA_TYPE_MASK, s.subspan(sizeof a, a.rta_len - sizeof a))) return false;
    s = s.subspan(std::min(s.size(), align4(a.rta_len)));
  }
  return s.empty();
}

// The fixed header (rtmsg, fib_rule_hdr) of a message of `type`.
template <class H>
std::optional<H> fixed_header(const Message& m, uint16_t type) {
  H h;
  if (m.type != type || !read_struct(m.payload, h)) return std::nullopt;
  return h;
}

// The attributes after a fixed header of `header_size` bytes.
std::span<const uint8_t> attributes(const Message& m, size_t header_size) {
  return m.payload.subspan(std::min(m.payload.size(), align4(header_size)));
}

bool read_address(std::span<const uint8_t> d, uint8_t family, IpAddress& out) {
  size_t n = address_size(family);
  if (n == 0 || d.size() != n) return false;
  out.family = family;
  std::memcpy(out.bytes.data(), d.data(), n);
  return true;
}

// The Error of a negative ack or a failed dump: errno, and the kernel's sentence
// (extended ack) where `tlvs` carries one.
Failure kernel_error(int err, std::span<const uint8_t> tlvs) {
  std::string said;
  (void)for_each_attr(tlvs, [&](uint16_t type, std::span<const uint8_t> d) {
    const char* text = reinterpret_cast<const char*>(d.data());
    if (type == NLMSGERR_ATTR_MSG) said.assign(text, strnlen(text, d.size()));
    return true;
  });
  if (said.empty()) return fail(std::strerror(err), err);
  return fail(fmt::format("{} ({})", said, std::strerror(err)), err);
}

// An NLMSG_ERROR payload: done for an ack (error 0), else the kernel's refusal.
Result<ReplyState> read_error(uint16_t flags, std::span<const uint8_t> p) {
  nlmsgerr e;
  if (!read_struct(p, e)) return fail("malformed netlink error message", EBADMSG);
  if (e.error == 0) return ReplyState::done;
  // The request is echoed after the error code: its header alone when capped.
  size_t echoed = (flags & NLM_F_CAPPED) ? sizeof(nlmsghdr) : e.msg.nlmsg_len;
  size_t at = align4(sizeof(int) + echoed);
  std::span<const uint8_t> tlvs =
      (flags & NLM_F_ACK_TLVS) && at <= p.size() ? p.subspan(at) : std::span<const uint8_t>{};
  int err = e.error == INT32_MIN ? EIO : (e.error < 0 ? -e.error : e.error);
  return kernel_error(err, tlvs);
}

// An NLMSG_DONE payload: the dump's status (0, or a negative errno).
Result<ReplyState> read_done(uint16_t flags, std::span<const uint8_t> p) {
  int status = 0;
  if (!read_struct(p, status) || status >= 0) return ReplyState::done;
  std::span<const uint8_t> tlvs = (flags & NLM_F_ACK_TLVS) ? p.subspan(sizeof(int)) : std::span<const uint8_t>{};
  return kernel_error(status == INT32_MIN ? EIO : -status, tlvs);
}

}  // namespace

size_t address_size(uint8_t family) { return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0; }

std::optional<IpAddress> parse_ip(std::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1)
    a.family = AF_INET;
  else if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1)
    a.family = AF_INET6;
  else
    return std::nullopt;
  return a;
}

std::string format_ip(const IpAddress& a) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address_size(a.family) == 0 || !inet_ntop(a.family, a.bytes.data(), text, sizeof text)) return "(none)";
  return text;
}

std::vector<uint8_t> rule_request(uint16_t type, uint32_t seq, const Rule& r) {
  Builder b(type, change_flags(type), seq);
  fib_rule_hdr h{};
  h.family = r.family;
  h.table = table_byte(r.table);
  h.action = r.action;
  b.bytes(&h, sizeof h);
  b.attr32(FRA_PRIORITY, r.priority);
  if (r.fwmark || r.fwmask) {
    b.attr32(FRA_FWMARK, r.fwmark);
    b.attr32(FRA_FWMASK, r.fwmask);
  }
  b.attr32(FRA_TABLE, r.table);
  if (r.protocol) b.attr(FRA_PROTOCOL, &r.protocol, 1);
  return b.finish();
}

std::vector<uint8_t> route_request(uint16_t type, uint32_t seq, const Route& r) {
  Builder b(type, change_flags(type), seq);
  rtmsg h{};
  h.rtm_family = r.family;
  h.rtm_dst_len = r.dst_len;
  h.rtm_table = table_byte(r.table);
  h.rtm_protocol = r.protocol;
  h.rtm_scope = RT_SCOPE_UNIVERSE;
  h.rtm_type = r.type ? r.type : uint8_t(RTN_UNICAST);
  b.bytes(&h, sizeof h);
  b.attr32(RTA_TABLE, r.table);
  if (r.dst_len) b.attr(RTA_DST, r.dst.bytes.data(), address_size(r.family));
  if (r.gateway) b.attr(RTA_GATEWAY, r.gateway->bytes.data(), address_size(r.gateway->family));
  if (r.oif) b.attr32(RTA_OIF, r.oif);
  if (r.metric) b.attr32(RTA_PRIORITY, r.metric);
  return b.finish();
}

std::vector<uint8_t> dump_request(uint16_t type, uint8_t family, uint32_t seq) {
  Builder b(type, NLM_F_REQUEST | NLM_F_DUMP, seq);
  rtmsg h{};  // fib_rule_hdr has the same size, with the family first too
  static_assert(sizeof(rtmsg) == sizeof(fib_rule_hdr));
  h.rtm_family = family;
  b.bytes(&h, sizeof h);
  return b.finish();
}

Result<ReplyState> read_reply(std::span<const uint8_t> datagram, uint32_t seq,
                              const std::function<void(const Message&)>& on_message) {
  while (!datagram.empty()) {
    nlmsghdr h;
    if (!read_struct(datagram, h) || h.nlmsg_len < sizeof h || h.nlmsg_len > datagram.size())
      return fail("malformed netlink reply (a message overruns its datagram)", EBADMSG);
    Message m{h.nlmsg_type, h.nlmsg_flags, h.nlmsg_seq, datagram.subspan(sizeof h, h.nlmsg_len - sizeof h)};
    datagram = datagram.subspan(std::min(datagram.size(), align4(h.nlmsg_len)));
    if (m.seq != seq || m.type == NLMSG_NOOP) continue;
    if (m.type == NLMSG_ERROR) return read_error(m.flags, m.payload);
    if (m.type == NLMSG_DONE) return read_done(m.flags, m.payload);
    if (m.type == NLMSG_OVERRUN) return fail("netlink reply overrun", ENOBUFS);
    on_message(m);
  }
  return ReplyState::more;
}

std::optional<Rule> parse_rule(const Message& m) {
  auto h = fixed_header<fib_rule_hdr>(m, RTM_NEWRULE);
  if (!h || address_size(h->family) == 0) return std::nullopt;
  Rule r{.family = h->family, .table = h->table, .action = h->action};
  bool ok = for_each_attr(attributes(m, sizeof *h), [&](uint16_t type, std::span<const uint8_t> d) {
    switch (type) {
      case FRA_PRIORITY:
        return read_struct(d, r.priority);
      case FRA_FWMARK:
        return read_struct(d, r.fwmark);
      case FRA_FWMASK:
        return read_struct(d, r.fwmask);
      case FRA_TABLE:
        return read_struct(d, r.table);  // the whole id, where the header has 8 bits
      case FRA_PROTOCOL:
        return read_struct(d, r.protocol);
      default:
        return true;  // what cgscope does not use
    }
  });
  return ok ? std::optional<Rule>(r) : std::nullopt;
}

std::optional<Route> parse_route(const Message& m) {
  auto h = fixed_header<rtmsg>(m, RTM_NEWROUTE);
  if (!h || address_size(h->rtm_family) == 0 || h->rtm_dst_len > address_size(h->rtm_family) * 8) return std::nullopt;
  Route r{.family = h->rtm_family,
          .table = h->rtm_table,
          .dst_len = h->rtm_dst_len,
          .protocol = h->rtm_protocol,
          .type = h->rtm_type};
  bool ok = for_each_attr(attributes(m, sizeof *h), [&](uint16_t type, std::span<const uint8_t> d) {
    switch (type) {
      case RTA_TABLE:
        return read_struct(d, r.table);
      case RTA_OIF:
        return read_struct(d, r.oif);
      case RTA_PRIORITY:
        return read_struct(d, r.metric);
      case RTA_DST:
        return read_address(d, r.family, r.dst);
      case RTA_GATEWAY:
        return read_address(d, r.family, r.gateway.emplace());
      default:
        return true;
    }
  });
  return ok ? std::optional<Route>(r) : std::nullopt;
}

Result<RtnlSocket> RtnlSocket::open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return fail_errno("opening a NETLINK_ROUTE socket", errno);
  int one = 1;
  // Extended acks carry the kernel's reason; capped acks leave out the echoed
  // request. Kernels without them still answer with an errno.
  (void)::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  // The kernel answers at once; the bound only keeps a bug from hanging a run.
  timeval tv{5, 0};
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;  // nl_pid 0: the kernel picks our port id
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
    return fail_errno("binding a NETLINK_ROUTE socket", errno);
  return RtnlSocket(std::move(fd));
}

Result<void> RtnlSocket::exchange(const std::vector<uint8_t>& request, uint32_t seq,
                                  const std::function<void(const Message&)>& on_message) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return fail_errno("sending a request to the kernel's routing (rtnetlink)", errno);
  std::vector<uint8_t> buf(kReceiveBuffer);
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return fail("the kernel's routing (rtnetlink) did not answer within 5 s", ETIMEDOUT);
    if (n < 0) return fail_errno("reading the kernel's routing answer (rtnetlink)", errno);
    if (size_t(n) > buf.size()) return fail("an rtnetlink answer was larger than its buffer", EMSGSIZE);
    if (from.nl_pid != 0) continue;  // only the kernel speaks for the kernel
    auto st = read_reply(std::span<const uint8_t>(buf.data(), size_t(n)), seq, on_message);
    if (!st) return fail_with(st.error());
    if (*st == ReplyState::done) return {};
  }
}

Result<void> RtnlSocket::change_rule(uint16_t type, const Rule& r) {
  uint32_t seq = seq_++;
  return exchange(rule_request(type, seq, r), seq, [](const Message&) {});
}

Result<void> RtnlSocket::change_route(uint16_t type, const Route& r) {
  uint32_t seq = seq_++;
  return exchange(route_request(type, seq, r), seq, [](const Message&) {});
}

template <class T>
Result<std::vector<T>> RtnlSocket::dump(uint16_t type, std::optional<T> (*parse)(const Message&), const char* what) {
  std::vector<T> out;
  uint32_t seq = seq_++;
  auto r = exchange(dump_request(type, AF_UNSPEC, seq), seq, [&](const Message& m) {
    if (auto x = parse(m)) out.push_back(*x);  // other families and types are not ours
  });
  if (!r) return fail_with(what, r.error());
  return out;
}

Result<std::vector<Rule>> RtnlSocket::rules() { return dump(RTM_GETRULE, parse_rule, "listing the policy rules"); }

Result<std::vector<Route>> RtnlSocket::routes() { return dump(RTM_GETROUTE, parse_route, "listing the routes"); }

}  // namespace cgscope::rtnl
