// Who talks to whom: the connection tracker behind `cgscope trace --flows`. Pure:
// it is fed the tcp_state transitions of a run, in order, and keeps one record
// per TCP connection: source (container or host, process, address:port) ->
// destination (the same, when the destination is local), bytes each way,
// duration and final state.
//
// Each traced socket is one end. Both ends of a connection between two traced
// processes (two containers of the machine, say) are joined into one record by
// their addresses: the client's local address:port is the server's remote one,
// and the other way round. An end with no traced peer gets its other side from
// its remote address: loopback is the end's own place, a local address of a
// container's or the host's network namespace names it (PlaceOf), anything else
// is outside.
//
// Bytes are the kernel's payload counters of the client's socket (struct
// cgs_tcp_info) at its last transition: final at CLOSE.
//
// UDP (flows_udp.cc). A UDP flow is one (socket, remote address:port) pair: its
// first datagram's udp_peer event makes it, and the kernel counts its datagrams
// (cgs_udp_count), which the tracker reads through a UdpCountsOf function when
// the socket closes (udp_close), when the pair has been idle too long
// (take_idle), and at the end. The end that sent the first datagram dialled the
// other. Two traced ends of one exchange are joined by their addresses as TCP's
// are; the flow is complete when its client's socket closes, whatever the
// server's (a server socket may serve for the whole run).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/rtnetlink.h"
#include "trace/format.h"

namespace cgscope::trace {

using rtnl::IpAddress;

enum class PlaceKind { container, host, outside, unknown };

// Where an end is: a container (id, runtime), the host, or elsewhere.
struct Place {
  PlaceKind kind = PlaceKind::unknown;
  std::string container_id;  // container only
  std::string runtime;       // container only; "" for a pid-namespace container
  bool operator==(const Place&) const = default;
};

// The owner of a local address, or nullopt for an address no local network
// namespace has.
using PlaceOf = std::function<std::optional<Place>(const IpAddress&)>;

// What every socket record (tcp_state, udp_peer) tells: which socket, its two
// ends, and who made the record.
struct SockEvent {
  uint64_t wall_ns = 0;
  uint64_t cookie = 0;      // the socket
  IpAddress local, remote;  // IPv4-mapped IPv6 addresses as IPv4
  uint16_t local_port = 0, remote_port = 0;
  bool by_task = false;  // pid and comm are the task that made it
  uint32_t pid = 0;
  std::string comm;
  Place place;  // of the process owning the socket (its cgroup's container, or the host)
};

// One tcp_state event, as the tracker needs it.
struct TcpTransition : SockEvent {
  int old_state = 0, new_state = 0;
  uint32_t netns = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;  // payload, struct cgs_tcp_info
};

// The transition a tcp_state event carries; nullopt for any other event or a
// record without its sections.
std::optional<TcpTransition> tcp_transition_of(const EventView& ev);

// One udp_peer event: the first datagram between a socket and a remote end.
struct UdpPeer : SockEvent {
  bool sent_first = false;  // the socket sent it (CGS_UDP_DIR_SEND)
  uint64_t netns = 0;       // the namespace's cookie; 0: not known
};

// The udp_peer event's pair; nullopt for any other event or a malformed record.
std::optional<UdpPeer> udp_peer_of(const EventView& ev);

// A pair's counters as the kernel kept them (struct cgs_udp_count).
struct UdpCounts {
  uint64_t bytes_sent = 0, bytes_received = 0;
  uint64_t dgrams_sent = 0, dgrams_received = 0;
  uint64_t last_wall_ns = 0;    // the last datagram
  std::optional<uint32_t> pid;  // the sender, once one of its sends showed it
  std::string comm;
};

// The counters of the pair (socket cookie, remote address, remote port); with
// `take`, the kernel forgets the pair too. nullopt when it has none (any more).
using UdpCountsOf =
    std::function<std::optional<UdpCounts>(uint64_t cookie, const IpAddress& remote, uint16_t port, bool take)>;

enum class FlowProto { tcp, udp };

// The process serving `port` of `proto` at the local address `addr`, when it is
// not traced (a listener found in /proc: netns_addrs.h); nullopt when none is known.
struct ServerProcess {
  uint32_t pid = 0;
  std::string comm;
};
using ServerOf = std::function<std::optional<ServerProcess>(const IpAddress& addr, uint16_t port, FlowProto proto)>;

struct FlowEnd {
  Place place;
  std::optional<uint32_t> pid;  // nullopt: not traced
  std::string comm;             // "": not traced
  IpAddress addr;               // family 0: not known
  uint16_t port = 0;
};

struct Flow {
  FlowProto proto = FlowProto::tcp;
  FlowEnd src, dst;  // src dialled dst (UDP: sent the first datagram)
  uint64_t bytes_sent = 0;      // src -> dst
  uint64_t bytes_received = 0;  // dst -> src
  uint64_t start_ns = 0, end_ns = 0;  // wall clock
  uint64_t dgrams_sent = 0, dgrams_received = 0;  // UDP only
  int state = 0;             // TCP: the last state of src's socket (or of the only end traced);
                             // UDP: kUdpClosed, kUdpIdle, or 0 while open
  bool established = false;  // TCP: the handshake completed; UDP: datagrams went both ways
  bool open = false;         // still open when the trace ended
  bool seen_from_start = true;  // false: already open when the trace began
};

// Flow::state of a UDP flow: its client's socket closed, or the pair was idle
// for the idle time.
constexpr int kUdpClosed = 1, kUdpIdle = 2;

class FlowTracker {
 public:
  explicit FlowTracker(PlaceOf place_of, UdpCountsOf udp_counts = {}, ServerOf server_of = {})
      : place_of_(std::move(place_of)), udp_counts_(std::move(udp_counts)), server_of_(std::move(server_of)) {}

  // One transition; the connections it completes are appended to `done`.
  void on_transition(const TcpTransition& t, std::vector<Flow>& done);
  // UDP: a pair's first datagram; the socket `cookie` closed; the pairs with
  // no datagram for `idle_ns` (both ends of a joined pair), as of `now_ns`.
  void on_udp_peer(const UdpPeer& p);
  void on_udp_close(uint64_t cookie, uint64_t wall_ns, std::vector<Flow>& done);
  void take_idle(uint64_t now_ns, uint64_t idle_ns, std::vector<Flow>& done);
  // Every connection not completed yet, as of `now_ns`; the tracker forgets them.
  std::vector<Flow> take_open(uint64_t now_ns);
  // Sockets being tracked (for tests and limits).
  size_t sockets() const { return socks_.size(); }

 private:
  enum class Role { unknown, client, server };
  struct Owner {
    std::optional<uint32_t> pid;
    std::string comm;
  };
  struct Sock {
    Role role = Role::unknown;
    IpAddress local, remote;
    uint16_t local_port = 0, remote_port = 0;
    uint64_t netns = 0;  // TCP: the inode number; UDP: the namespace's cookie
    uint64_t first_ns = 0, last_ns = 0;
    int state = 0;
    bool established = false, closed = false, seen_from_start = true, indexed = false;
    uint64_t sent = 0, received = 0;
    Place place;
    Owner owner;
    uint64_t peer = 0;  // the other end's cookie, when it is traced too
    // UDP: the pair's socket (the key in socks_ is the pair's own id) and counts.
    bool udp = false;
    uint64_t cookie = 0;
    uint64_t dgrams_sent = 0, dgrams_received = 0;
    bool idle = false;
  };
  using ListenKey = std::pair<uint32_t, uint16_t>;  // netns, port

  bool on_listener(const TcpTransition& t);
  Sock new_sock(const TcpTransition& t) const;
  void update(uint64_t cookie, Sock& s, const TcpTransition& t);
  void index(uint64_t cookie, Sock& s);
  void finish(uint64_t cookie, std::vector<Flow>& done);
  Flow flow_of(const Sock& s, const Sock* peer) const;
  FlowEnd local_end(const Sock& s) const;
  // `dst`: the end dialled, whose process a listener found in /proc may name.
  FlowEnd remote_end(const Sock& s, bool dst) const;
  void forget(uint64_t cookie);
  // UDP (flows_udp.cc).
  void udp_refresh(Sock& s, bool take);
  void udp_finish(uint64_t id, std::vector<Flow>& done);

  PlaceOf place_of_;
  std::unordered_map<uint64_t, Sock> socks_;
  std::unordered_map<std::string, uint64_t> by_tuple_;  // tuple_key(local, remote) -> cookie
  std::map<ListenKey, Owner> listeners_;
  UdpCountsOf udp_counts_;
  ServerOf server_of_;
  std::unordered_multimap<uint64_t, uint64_t> udp_by_cookie_;  // socket cookie -> its pairs' ids
  uint64_t next_udp_id_ = 1ull << 63;  // above every socket cookie (a counter from 1)
};

}  // namespace cgscope::trace
