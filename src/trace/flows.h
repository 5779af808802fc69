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

// One tcp_state event, as the tracker needs it.
struct TcpTransition {
  uint64_t wall_ns = 0;
  uint64_t cookie = 0;  // the socket
  int old_state = 0, new_state = 0;
  IpAddress local, remote;  // IPv4-mapped IPv6 addresses as IPv4
  uint16_t local_port = 0, remote_port = 0;
  uint32_t netns = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;  // payload, struct cgs_tcp_info
  bool by_task = false;  // pid and comm are the task that made the transition
  uint32_t pid = 0;
  std::string comm;
  Place place;  // of the process owning the socket (its cgroup's container, or the host)
};

// The transition a tcp_state event carries; nullopt for any other event or a
// record without its sections.
std::optional<TcpTransition> tcp_transition_of(const EventView& ev);

struct FlowEnd {
  Place place;
  std::optional<uint32_t> pid;  // nullopt: not traced
  std::string comm;             // "": not traced
  IpAddress addr;               // family 0: not known
  uint16_t port = 0;
};

struct Flow {
  FlowEnd src, dst;  // src dialled dst
  uint64_t bytes_sent = 0;      // src -> dst
  uint64_t bytes_received = 0;  // dst -> src
  uint64_t start_ns = 0, end_ns = 0;  // wall clock
  int state = 0;             // the last TCP state of src's socket (or of the only end traced)
  bool established = false;  // the handshake completed
  bool open = false;         // still open when the trace ended
  bool seen_from_start = true;  // false: already open when the trace began
};

class FlowTracker {
 public:
  explicit FlowTracker(PlaceOf place_of) : place_of_(std::move(place_of)) {}

  // One transition; the connections it completes are appended to `done`.
  void on_transition(const TcpTransition& t, std::vector<Flow>& done);
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
    uint32_t netns = 0;
    uint64_t first_ns = 0, last_ns = 0;
    int state = 0;
    bool established = false, closed = false, seen_from_start = true, indexed = false;
    uint64_t sent = 0, received = 0;
    Place place;
    Owner owner;
    uint64_t peer = 0;  // the other end's cookie, when it is traced too
  };
  using ListenKey = std::pair<uint32_t, uint16_t>;  // netns, port

  bool on_listener(const TcpTransition& t);
  Sock new_sock(const TcpTransition& t) const;
  void update(uint64_t cookie, Sock& s, const TcpTransition& t);
  void index(uint64_t cookie, Sock& s);
  void finish(uint64_t cookie, std::vector<Flow>& done);
  Flow flow_of(const Sock& s, const Sock* peer) const;
  FlowEnd local_end(const Sock& s) const;
  FlowEnd remote_end(const Sock& s) const;
  void forget(uint64_t cookie);

  PlaceOf place_of_;
  std::unordered_map<uint64_t, Sock> socks_;
  std::unordered_map<std::string, uint64_t> by_tuple_;  // tuple_key(local, remote) -> cookie
  std::map<ListenKey, Owner> listeners_;
};

}  // namespace cgscope::trace
