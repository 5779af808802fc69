// Fitting a plan into the maps. Every map has a fixed capacity (max_entries;
// past it an insert fails with E2BIG), and the planner's order (planner.h)
// needs room for the old and the new entries at once: replacing 100,000
// services by 100,000 others needs 200,000 names where 131,072 fit. So before
// anything is written the plan is run against the capacities step by step.
// Where it does not fit, the same writes are put in another order that keeps
// every step consistent (the planner's rule: a reachable service only ever
// points at entries that exist), taking each removal as soon as what leads to
// it is gone: the frontends of a service that goes away, then the service,
// its counters, endpoints and name, then backends nothing names any more. A
// change that no such order fits is refused before the first write, with the
// numbers.
#pragma once

#include <array>
#include <cstddef>

#include "cgscope/abi/lb.h"
#include "core/result.h"
#include "lb/planner.h"

namespace cgscope::lb {

// Entries each map may hold (lb_counters is the kernel's to fill: not counted).
struct Capacity {
  size_t frontends = CGS_LB_MAX_FRONTENDS;
  size_t services = CGS_LB_MAX_SERVICES;
  size_t endpoints = CGS_LB_MAX_ENDPOINTS;
  size_t backends = CGS_LB_MAX_BACKENDS;
  size_t names = CGS_LB_MAX_SERVICES;
  size_t of(MapKind m) const;
};

// Entries per map, indexed by MapKind: in a state, and at the fullest point of
// `ops` from `cur`.
using MapCounts = std::array<size_t, kMapKinds>;
MapCounts entry_counts(const MapState& s);
MapCounts peak_entries(const MapState& cur, const std::vector<Op>& ops);

// The plan from `cur` to `want`: in the planner's order where that fits `cap`,
// else in an order that does. Fails with E2BIG, naming the map, its capacity
// and its counts now and at the end, when no consistent order fits.
// (`want` is taken by value: a caller done with it moves it in, and its memory
// is freed before the reordering needs more.)
Result<Plan> plan_within(const MapState& cur, MapState want, const Capacity& cap = {});

}  // namespace cgscope::lb
