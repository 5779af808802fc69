// The planner: from the state the kernel maps hold and a validated config, the
// ordered list of map writes that brings the maps to exactly that config. Pure:
// no map is touched here, so every rule below is unit-tested without root.
//
// Ordering (what a concurrent connect may see between any two writes):
//   1 backends updated      6 frontends deleted
//   2 endpoints updated     7 services deleted (and their counters)
//   3 names updated         8 endpoints deleted
//   4 services updated      9 names deleted
//   5 frontends updated    10 backends deleted
// Adds go backend -> endpoint -> counts -> frontend and removals the reverse, so a
// reachable service only ever points at entries that exist. Within a tier, the
// new layout keeps every surviving endpoint where it is and fills the slots of
// removed ones (the last endpoint first, then new ones): those slots are
// overwritten in place before the count changes, so indices below the count
// always name a live backend, and only then the tail beyond the new count goes.
#pragma once

#include <cstdint>
#include <map>
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
};

enum class MapKind { backend, endpoint, name, service, frontend, counters };
enum class OpKind { update, remove };

const char* map_kind_name(MapKind m);

// One map write: key and value bytes exactly as the kernel map takes them.
struct Op {
  MapKind map;
  OpKind kind;
  std::vector<uint8_t> key;
  std::vector<uint8_t> value;  // empty for remove
};

struct PlanSummary {
  int services_added = 0, services_changed = 0, services_removed = 0;
  int endpoints_written = 0, endpoints_removed = 0;
  int backends_written = 0, backends_removed = 0;
  int frontends_written = 0, frontends_removed = 0;
};

struct Plan {
  std::vector<Op> ops;
  PlanSummary summary;
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

// Helpers to build kernel values from the model.
cgs_addr to_abi(const Addr& a);
Addr from_abi(const cgs_addr& a);
bool same_bytes(const void* a, const void* b, size_t n);

}  // namespace cgscope::lb
