#include "trace/flows.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "trace/containers.h"
#include "trace/flow_addr.h"

namespace cgscope::trace {
namespace {

// The kernel's TCP_* numbers (tcp_states.h).
constexpr int kEstablished = 1, kSynSent = 2, kSynRecv = 3, kClose = 7, kListen = 10;
// Ports below this are servers' when nothing else tells (ephemeral ports start above).
constexpr uint16_t kEphemeralFloor = 32768;

}  // namespace

IpAddress flow_unmapped(const IpAddress& a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.family != AF_INET6 || std::memcmp(a.bytes.data(), kMapped, sizeof kMapped) != 0) return a;
  IpAddress v4;
  v4.family = AF_INET;
  std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
  return v4;
}

// A SOCKADDR section of a tcp_state or udp_peer record.
bool flow_read_sockaddr(const VarSection& var, IpAddress& addr, uint16_t& port) {
  if (!var.present || var.kind != CGS_ARG_SOCKADDR || var.data.size() < sizeof(sockaddr_in)) return false;
  sa_family_t family;
  std::memcpy(&family, var.data.data(), sizeof(family));
  if (family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, var.data.data(), sizeof(sin));
    addr = IpAddress{AF_INET, {}};
    std::memcpy(addr.bytes.data(), &sin.sin_addr, 4);
    port = ntohs(sin.sin_port);
    return true;
  }
  if (family != AF_INET6 || var.data.size() < sizeof(sockaddr_in6)) return false;
  sockaddr_in6 sin6;
  std::memcpy(&sin6, var.data.data(), sizeof(sin6));
  addr = IpAddress{AF_INET6, {}};
  std::memcpy(addr.bytes.data(), &sin6.sin6_addr, 16);
  addr = flow_unmapped(addr);
  port = ntohs(sin6.sin6_port);
  return true;
}

bool flow_is_unspecified(const IpAddress& a) {
  return a.family == 0 || std::all_of(a.bytes.begin(), a.bytes.end(), [](uint8_t b) { return b == 0; });
}

bool flow_is_loopback(const IpAddress& a) {
  static constexpr uint8_t kOne[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return (a.family == AF_INET && a.bytes[0] == 127) ||
         (a.family == AF_INET6 && std::memcmp(a.bytes.data(), kOne, 16) == 0);
}

// The protocol, then the local and the remote end. Loopback addresses are the
// same in every namespace, so for them the namespace is part of the key (both
// ends of a loopback connection share it); elsewhere the two ends of one
// connection live in different ones.
std::string flow_tuple_key(bool udp, uint64_t netns, const IpAddress& la, uint16_t lp, const IpAddress& ra,
                           uint16_t rp) {
  std::string k(1, udp ? 'u' : 't');
  auto put = [&k](const IpAddress& a, uint16_t p) {
    k += static_cast<char>(a.family);
    k.append(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
    k += static_cast<char>(p >> 8);
    k += static_cast<char>(p & 0xff);
  };
  uint64_t ns = flow_is_loopback(la) ? netns : 0;
  k.append(reinterpret_cast<const char*>(&ns), sizeof(ns));
  put(la, lp);
  put(ra, rp);
  return k;
}

bool read_sock_event(const EventView& ev, SockEvent& s) {
  const cgs_record* h = ev.rec->hdr;
  if (!flow_read_sockaddr(ev.rec->vars[2], s.local, s.local_port) ||
      !flow_read_sockaddr(ev.rec->vars[3], s.remote, s.remote_port))
    return false;
  s.wall_ns = ev.wall_ns;
  s.cookie = h->args[4];
  s.by_task = h->args[5] == CGS_TCP_CTX_TASK;
  if (s.by_task) {
    s.pid = h->pid;
    s.comm.assign(h->comm, strnlen(h->comm, CGS_COMM_LEN));
  }
  s.place = ev.container ? Place{PlaceKind::container, ev.container->id, ev.container->runtime} : Place{PlaceKind::host};
  return true;
}

std::optional<TcpTransition> tcp_transition_of(const EventView& ev) {
  const cgs_record* h = ev.rec->hdr;
  TcpTransition t;
  if (h->nr != CGS_EV_TCP_STATE || !read_sock_event(ev, t)) return std::nullopt;
  if (const VarSection& aux = ev.rec->vars[5];
      aux.present && aux.kind == CGS_ARG_AUX && aux.data.size() >= sizeof(cgs_tcp_info)) {
    cgs_tcp_info info;
    std::memcpy(&info, aux.data.data(), sizeof(info));
    t.bytes_sent = info.bytes_sent;
    t.bytes_received = info.bytes_received;
    t.netns = info.netns;
  }
  t.old_state = static_cast<int>(h->args[0]);
  t.new_state = static_cast<int>(h->args[1]);
  return t;
}

void FlowTracker::on_transition(const TcpTransition& t, std::vector<Flow>& done) {
  if (on_listener(t)) return;
  // A child being cloned has no peer address yet, and on 6.1 its listener's
  // cookie (copied with the socket, before the child has one of its own, and
  // the same for every child): nothing to key it by. Its next transition,
  // SYN_RECV->ESTABLISHED, comes under its own cookie with both addresses.
  if (t.old_state == kListen && t.new_state == kSynRecv) return;
  auto it = socks_.find(t.cookie);
  if (it == socks_.end()) it = socks_.emplace(t.cookie, new_sock(t)).first;
  update(t.cookie, it->second, t);
  if (t.new_state == kClose) {
    it->second.closed = true;
    finish(t.cookie, done);
  }
}

// Listening sockets are no connections; they name the server of their children.
bool FlowTracker::on_listener(const TcpTransition& t) {
  ListenKey key{t.netns, t.local_port};
  if (t.new_state == kListen) {
    listeners_[key] = t.by_task ? Owner{t.pid, t.comm} : Owner{};
    return true;
  }
  if (t.old_state == kListen && t.new_state == kClose) {
    listeners_.erase(key);
    return true;
  }
  return false;
}

FlowTracker::Sock FlowTracker::new_sock(const TcpTransition& t) const {
  Sock s;
  s.first_ns = t.wall_ns;
  s.netns = t.netns;
  s.place = t.place;
  auto listener = listeners_.find({t.netns, t.local_port});
  // Born in the trace: dialled (connect), or cloned by a listener (accept; first
  // seen completing its handshake, see on_transition).
  s.seen_from_start = (t.old_state == kClose && t.new_state == kSynSent) || t.old_state == kListen ||
                      t.old_state == kSynRecv;
  if (t.new_state == kSynSent) s.role = Role::client;
  else if (t.old_state == kListen || listener != listeners_.end()) s.role = Role::server;
  else s.role = t.local_port < t.remote_port && t.local_port < kEphemeralFloor ? Role::server : Role::client;
  if (s.role == Role::server && listener != listeners_.end()) s.owner = listener->second;
  return s;
}

void FlowTracker::update(uint64_t cookie, Sock& s, const TcpTransition& t) {
  s.last_ns = t.wall_ns;
  s.state = t.new_state;
  s.established |= t.new_state == kEstablished;
  s.sent = std::max(s.sent, t.bytes_sent);
  s.received = std::max(s.received, t.bytes_received);
  // A client is the process that dialled; a server the last one to act on the
  // socket (a pre-forked worker rather than the process that listened).
  if (t.by_task && (!s.owner.pid || s.role == Role::server)) s.owner = Owner{t.pid, t.comm};
  if (s.indexed) return;
  // Until both ports are known (a SYN_SENT socket has no local port yet, a child
  // being cloned its listener's addresses), keep the latest addresses.
  s.local = t.local;
  s.local_port = t.local_port;
  s.remote = t.remote;
  s.remote_port = t.remote_port;
  if (t.local_port && t.remote_port && !flow_is_unspecified(t.remote)) index(cookie, s);
}

void FlowTracker::index(uint64_t cookie, Sock& s) {
  s.indexed = true;
  by_tuple_[flow_tuple_key(s.udp, s.netns, s.local, s.local_port, s.remote, s.remote_port)] = cookie;
  auto other = by_tuple_.find(flow_tuple_key(s.udp, s.netns, s.remote, s.remote_port, s.local, s.local_port));
  if (other == by_tuple_.end() || other->second == cookie) return;
  auto p = socks_.find(other->second);
  if (p == socks_.end() || p->second.peer) return;
  Sock& peer = p->second;
  s.peer = other->second;
  peer.peer = cookie;
  // One end that dialled makes the other the server, whatever was guessed.
  if (peer.role == Role::client) s.role = Role::server;
  else if (s.role == Role::client) peer.role = Role::server;
}

void FlowTracker::finish(uint64_t cookie, std::vector<Flow>& done) {
  const Sock& s = socks_.at(cookie);
  const Sock* peer = nullptr;
  if (s.peer) {
    auto p = socks_.find(s.peer);
    if (p != socks_.end()) {
      if (!p->second.closed) return;  // the record is complete when both ends are
      peer = &p->second;
    }
  }
  done.push_back(flow_of(s, peer));
  if (peer) forget(s.peer);
  forget(cookie);
}

Flow FlowTracker::flow_of(const Sock& a, const Sock* b) const {
  // The client's socket speaks for the connection: its bytes, its state.
  const Sock* c = &a;
  const Sock* srv = b;
  if (b && a.role == Role::server) std::swap(c, srv);
  bool reversed = !srv && c->role == Role::server;  // only the server's end is traced
  Flow f;
  f.src = reversed ? remote_end(*c, false) : local_end(*c);
  f.dst = srv ? local_end(*srv) : reversed ? local_end(*c) : remote_end(*c, true);
  f.proto = c->udp ? FlowProto::udp : FlowProto::tcp;
  f.bytes_sent = reversed ? c->received : c->sent;
  f.bytes_received = reversed ? c->sent : c->received;
  f.dgrams_sent = reversed ? c->dgrams_received : c->dgrams_sent;
  f.dgrams_received = reversed ? c->dgrams_sent : c->dgrams_received;
  f.start_ns = srv ? std::min(c->first_ns, srv->first_ns) : c->first_ns;
  f.end_ns = srv ? std::max(c->last_ns, srv->last_ns) : c->last_ns;
  f.state = c->state;
  f.established = c->established || (srv && srv->established);
  f.seen_from_start = c->seen_from_start && (!srv || srv->seen_from_start);
  return f;
}

FlowEnd FlowTracker::local_end(const Sock& s) const {
  return FlowEnd{s.place, s.owner.pid, s.owner.comm, s.local, s.local_port};
}

FlowEnd FlowTracker::remote_end(const Sock& s, bool dst) const {
  FlowEnd e;
  e.addr = s.remote;
  e.port = s.remote_port;
  if (flow_is_unspecified(s.remote)) return e;
  if (flow_is_loopback(s.remote)) {
    e.place = s.place;
  } else if (auto p = place_of_ ? place_of_(s.remote) : std::nullopt) {
    e.place = *p;
    // A local server that is not traced: its listener's process (loopback ones
    // are left out, since every namespace has the same loopback addresses).
    if (auto srv = dst && server_of_ ? server_of_(s.remote, s.remote_port, s.udp ? FlowProto::udp : FlowProto::tcp)
                                     : std::nullopt) {
      e.pid = srv->pid;
      e.comm = srv->comm;
    }
  } else {
    e.place.kind = PlaceKind::outside;
  }
  return e;
}

void FlowTracker::forget(uint64_t cookie) {
  auto it = socks_.find(cookie);
  if (it == socks_.end()) return;
  const Sock& s = it->second;
  if (s.indexed) {
    auto t = by_tuple_.find(flow_tuple_key(s.udp, s.netns, s.local, s.local_port, s.remote, s.remote_port));
    if (t != by_tuple_.end() && t->second == cookie) by_tuple_.erase(t);
  }
  if (s.udp)
    for (auto [b, e] = udp_by_cookie_.equal_range(s.cookie); b != e; ++b)
      if (b->second == cookie) {
        udp_by_cookie_.erase(b);
        break;
      }
  socks_.erase(it);
}

std::vector<Flow> FlowTracker::take_open(uint64_t now_ns) {
  std::vector<Flow> out;
  std::unordered_set<uint64_t> shown;
  for (auto& [id, s] : socks_)
    if (s.udp) udp_refresh(s, true);  // the kernel's counts, final: the trace ends
  for (const auto& [cookie, s] : socks_) {
    if (shown.count(cookie)) continue;
    auto p = s.peer ? socks_.find(s.peer) : socks_.end();
    const Sock* peer = p == socks_.end() ? nullptr : &p->second;
    if (peer) shown.insert(s.peer);
    Flow f = flow_of(s, peer);
    f.open = true;
    if (f.proto == FlowProto::tcp) f.end_ns = std::max(f.end_ns, now_ns);  // UDP: its last datagram
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const Flow& x, const Flow& y) { return x.start_ns < y.start_ns; });
  socks_.clear();
  by_tuple_.clear();
  udp_by_cookie_.clear();
  return out;
}

}  // namespace cgscope::trace
