// The UDP part of the flow tracker (flows.h): pairs made by udp_peer events,
// counted by the kernel, completed by udp_close, by idleness, or by the end.
#include <cstring>
#include <vector>

#include "trace/flow_addr.h"
#include "trace/flows.h"

namespace cgscope::trace {
namespace {

// Ports below this are servers' when nothing else tells (ephemeral ports start above).
constexpr uint16_t kUdpEphemeralFloor = 32768;

}  // namespace

std::optional<UdpPeer> udp_peer_of(const EventView& ev) {
  const cgs_record* h = ev.rec->hdr;
  UdpPeer p;
  if (h->nr != CGS_EV_UDP_PEER || !read_sock_event(ev, p)) return std::nullopt;
  if (const VarSection& aux = ev.rec->vars[5];
      aux.present && aux.kind == CGS_ARG_AUX && aux.data.size() >= sizeof(cgs_udp_info)) {
    cgs_udp_info info;
    std::memcpy(&info, aux.data.data(), sizeof(info));
    p.netns = info.netns_cookie;
  }
  p.sent_first = h->args[0] == CGS_UDP_DIR_SEND;
  return p;
}

void FlowTracker::on_udp_peer(const UdpPeer& p) {
  uint64_t id = next_udp_id_++;
  Sock s;
  s.udp = true;
  s.cookie = p.cookie;
  s.first_ns = s.last_ns = p.wall_ns;
  s.netns = p.netns;
  s.place = p.place;
  // The end that sent first dialled; but a first datagram sent from a server's
  // port to an ephemeral one is a reply whose query went unseen (a socket in
  // scope only from its first send, under -p, --uid or --comm; or older than
  // the trace).
  bool reply = p.local_port < kUdpEphemeralFloor && p.remote_port >= kUdpEphemeralFloor;
  s.role = p.sent_first && !reply ? Role::client : Role::server;
  s.seen_from_start = !(p.sent_first && reply);
  s.local = p.local;
  s.local_port = p.local_port;
  s.remote = p.remote;
  s.remote_port = p.remote_port;
  if (p.by_task) s.owner = Owner{p.pid, p.comm};
  Sock& made = socks_.emplace(id, std::move(s)).first->second;
  udp_by_cookie_.emplace(p.cookie, id);
  if (made.local_port && made.remote_port && !flow_is_unspecified(made.remote)) index(id, made);
}

// The kernel's counts of the pair; with `take`, they are final for it.
void FlowTracker::udp_refresh(Sock& s, bool take) {
  if (!udp_counts_) return;
  auto c = udp_counts_(s.cookie, s.remote, s.remote_port, take);
  if (!c) return;
  s.sent = c->bytes_sent;
  s.received = c->bytes_received;
  s.dgrams_sent = c->dgrams_sent;
  s.dgrams_received = c->dgrams_received;
  s.established = c->dgrams_sent && c->dgrams_received;
  s.last_ns = std::max(s.last_ns, c->last_wall_ns);
  // The datagrams' sender names a pair that began with one it received.
  if (c->pid && !s.owner.pid) s.owner = Owner{c->pid, c->comm};
}

void FlowTracker::on_udp_close(uint64_t cookie, uint64_t wall_ns, std::vector<Flow>& done) {
  std::vector<uint64_t> ids;
  for (auto [b, e] = udp_by_cookie_.equal_range(cookie); b != e; ++b) ids.push_back(b->second);
  for (uint64_t id : ids) {
    Sock& s = socks_.at(id);
    udp_refresh(s, true);
    s.closed = true;
    s.state = kUdpClosed;
    if (!s.sent && !s.received) s.last_ns = std::max(s.last_ns, wall_ns);  // nothing counted: its end
  }
  for (uint64_t id : ids) udp_finish(id, done);
}

// A pair whose end came (closed or idle), with its peer if that is traced too.
// The client's end completes a joined pair: a server socket that closes first
// waits for it.
void FlowTracker::udp_finish(uint64_t id, std::vector<Flow>& done) {
  auto it = socks_.find(id);
  if (it == socks_.end()) return;  // completed with its peer already
  Sock& s = it->second;
  Sock* peer = nullptr;
  if (s.peer)
    if (auto p = socks_.find(s.peer); p != socks_.end()) peer = &p->second;
  if (peer && s.role == Role::server && !peer->closed && !peer->idle) return;
  if (peer && !peer->closed) udp_refresh(*peer, true);  // forgotten by the kernel too
  done.push_back(flow_of(s, peer));
  if (peer) forget(s.peer);
  forget(id);
}

void FlowTracker::take_idle(uint64_t now_ns, uint64_t idle_ns, std::vector<Flow>& done) {
  auto quiet = [&](const Sock& s) { return s.closed || (now_ns > s.last_ns && now_ns - s.last_ns >= idle_ns); };
  std::vector<uint64_t> ids;
  for (auto& [id, s] : socks_) {
    if (!s.udp || s.closed) continue;
    udp_refresh(s, false);
    ids.push_back(id);
  }
  for (uint64_t id : ids) {
    auto it = socks_.find(id);
    if (it == socks_.end() || !quiet(it->second)) continue;
    Sock& s = it->second;
    Sock* peer = nullptr;
    if (s.peer)
      if (auto p = socks_.find(s.peer); p != socks_.end()) peer = &p->second;
    if (peer && !quiet(*peer)) continue;  // the other end still talks
    for (Sock* end : {&s, peer}) {
      if (!end || end->closed) continue;
      udp_refresh(*end, true);
      end->idle = true;
      end->state = kUdpIdle;
    }
    udp_finish(id, done);
  }
}

}  // namespace cgscope::trace
