// The planner: from the state the kernel maps hold and a validated config, the
// ordered list of map writes that brings the maps to exactly that config. Pure:
// no map is touched here, so every rule below is unit-tested without root.
//
// Ordering (what a concurrent connect may see between any two writes):
//   1 backends updated      6 frontends deleted
//   2 endpoints updated     7 services deleted
//   3 names updated         8 counters deleted (of every id that is no service now)
//   4 services updated      9 endpoints deleted
//   5 frontends updated    10 names deleted
//                          11 backends deleted
// Adds go backend -> endpoint -> counts -> frontend and removals the reverse, so a
// reachable service only ever points at entries that exist. Within a tier, the
// new layout keeps every surviving endpoint where it is and fills the slots of
// removed ones (the last endpoint first, then new ones): those slots are
// overwritten in place before the count changes, so indices below the count
// always name a live backend, and only then the tail beyond the new count goes.
//
// That order needs room for the old and the new entries at once. Where the
// maps cannot hold both, plan_within() (schedule.h) reorders the same writes so
// that removals come as early as the rule above allows.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "cgscope/abi/lb.h"
#include "core/result.h"
#include "lb/config.h"

namespace cgscope::lb {

using EndpointKey = std::tuple<uint32_t, uint32_t, uint32_t>;  // service id, tier, index

// What the maps hold (or should hold), keyed as in the kernel.
struct MapState {
  std::map<Addr, cgs_lb_frontend_value> frontends;
  std::map<uint32_t, cgs_lb_service_value> services;
  std::map<uint32_t, std::string> names;
  std::map<EndpointKey, uint32_t> endpoints;  // -> backend id
  std::map<uint32_t, cgs_lb_backend_value> backends;
  // Service ids with a lb_counters entry. The kernel makes an entry at a
  // service's first connect; apply removes those of ids that are no service
  // (after a removal, or left by a killed apply), and never gives a new
  // service an id that still has one, so a new service starts from zero.
  std::set<uint32_t> counters;
  bool operator==(const MapState&) const;
};

enum class MapKind : uint8_t { backend, endpoint, name, service, frontend, counters };
inline constexpr int kMapKinds = 6;
enum class OpKind : uint8_t { update, remove };

const char* map_kind_name(MapKind m);

// One map write: key and value bytes exactly as the kernel map takes them. The
// key (16 bytes at most) is kept inline and the value in its plan's arena, so
// a plan of a million writes takes tens of MiB, not hundreds.
struct Op {
  MapKind map;
  OpKind kind;
  uint8_t key_len = 0;
  uint8_t value_len = 0;
  // What the op does to its map's entry count: +1 inserts a key the current
  // state lacks, -1 removes one, 0 replaces a value in place (the planner never
  // removes and writes one key in one plan). For the capacity check.
  int8_t delta = 0;
  std::array<uint8_t, 16> key_buf{};
  const uint8_t* value_ptr = nullptr;  // in the Plan's arena; null for remove
  std::span<const uint8_t> key() const { return {key_buf.data(), key_len}; }
  std::span<const uint8_t> value() const { return {value_ptr, value_len}; }
};

// Bytes that stay where they are as more are added (chunks of 1 MiB).
class ByteArena {
 public:
  const uint8_t* copy(const void* p, size_t n);

 private:
  static constexpr size_t kChunk = 1 << 20;
  std::vector<std::unique_ptr<uint8_t[]>> chunks_;
  size_t used_ = kChunk;
};

struct PlanSummary {
  int services_added = 0, services_changed = 0, services_removed = 0;
  int endpoints_written = 0, endpoints_removed = 0;
  int backends_written = 0, backends_removed = 0;
  int frontends_written = 0, frontends_removed = 0;
  int counters_removed = 0;
};

// Movable, not copyable: its ops point into its arena.
struct Plan {
  std::vector<Op> ops;
  PlanSummary summary;
  bool reordered = false;  // plan_within() changed the order to fit the maps (schedule.h)
  ByteArena values;
};

// The state the maps must hold for `cfg`, given what they hold now: ids of
// services (by name) and backends (by address) are kept, new ones get ids no
// entry uses now, and each tier's layout follows the rule above. Fails only if
// ids run out.
Result<MapState> desired_state(const Config& cfg, const MapState& current);

// The ordered writes from `current` to `desired`. Equal states: no writes.
Plan plan(const MapState& current, const MapState& desired);

// Applies one op to an in-memory state, as the kernel would (for tests and for
// checking a plan step by step).
void apply_op(MapState& s, const Op& op);

// A connect's view: true if every frontend leads to a service (or backend) whose
// tiers' indices below the count all name existing backends. `why` says what not.
bool consistent(const MapState& s, std::string* why = nullptr);

// An op's key or value bytes as the kernel struct they are.
template <class T>
T op_bytes_as(std::span<const uint8_t> b) {
  T v{};
  std::memcpy(&v, b.data(), std::min(b.size(), sizeof(T)));
  return v;
}

// Helpers to build kernel values from the model.
cgs_addr to_abi(const Addr& a);
Addr from_abi(const cgs_addr& a);
bool same_bytes(const void* a, const void* b, size_t n);

}  // namespace cgscope::lb
