// Health checks for `lb run` (run.h): a TCP connect to each endpoint at an
// interval. An endpoint that fails `fall` checks in a row leaves rotation (it is
// applied with weight 0, so its slots go and the other endpoints of its tier
// share its connects; an empty tier fails over as the policy says), and one
// that passes `rise` in a row comes back. This is what keeps a dead backend
// from keeping its share of connects, which lb's one rewrite at connect() cannot
// see on its own.
//
// The port checked is the service's first target_port, as kube-proxy's
// readiness follows one probe per pod. The connects are plain sockets of this
// process: a backend address is no frontend, so lb leaves them alone (an endpoint
// that is a workload is checked through its waypoint, as its clients reach it).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lb/config.h"

namespace cgscope::lb {

struct HealthOptions {
  std::chrono::milliseconds interval{0};  // 0: no health checks
  std::chrono::milliseconds timeout{1000};
  int fall = 3;  // failed checks in a row that take an endpoint out
  int rise = 2;  // passed checks in a row that bring it back
};

class HealthChecker {
 public:
  explicit HealthChecker(HealthOptions o) : o_(o) {}

  // The endpoints of `cfg` are the ones checked from now on: new ones start in
  // rotation, ones no longer listed are forgotten.
  void track(const Config& cfg);
  // Checks every tracked endpoint once (up to 256 connects in flight). Lines
  // saying which endpoints left or came back; empty if none changed.
  std::vector<std::string> check_all();
  // Weight 0 for every endpoint that is down.
  void adjust(Config& cfg) const;
  // Every tracked endpoint (address, port checked) and whether it is in rotation.
  std::vector<std::pair<HostPort, bool>> states() const;

 private:
  struct State {
    bool up = true;
    int fails = 0, passes = 0;  // in a row
  };
  using Key = std::pair<Addr, uint16_t>;  // endpoint address, port checked
  static Key key(const Service& s, const Endpoint& e);
  std::string judge(const Key& k, State& st, bool passed) const;

  HealthOptions o_;
  std::map<Key, State> state_;
};

}  // namespace cgscope::lb
