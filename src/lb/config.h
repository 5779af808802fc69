// The lb configuration file: YAML in, a validated model out. Everything that can
// be wrong with a file is found here, before any map is touched, and reported as
// "file:line: what is wrong".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "lb/addr.h"

namespace cgscope::lb {

enum class Policy { random, strict, failover };
const char* policy_name(Policy p);

// The locality scopes, most general first, as the config names them.
enum class Scope { region, zone, subzone, node };
inline constexpr int kScopes = 4;
const char* scope_name(Scope s);

struct Locality {
  std::array<std::string, kScopes> v;  // indexed by Scope; "" = unset
  const std::string& get(Scope s) const { return v[static_cast<int>(s)]; }
};

struct Endpoint {
  Addr address;
  std::optional<Locality> locality;
  std::optional<int> priority;  // explicit tier, 0..CGS_LB_TIERS-1
  int line = 0;
  // Its share of its tier's connects, relative to the others' (0: none, drained).
  uint32_t weight = 1;
};

// Weights become endpoint slots: an endpoint of weight w fills w / g slots of
// its tier, g being the greatest common divisor of the service's non-zero
// weights, and the program picks a slot uniformly, so a connect stays one
// lookup whatever the weights. Up to kMaxWeight.
inline constexpr uint32_t kMaxWeight = 100;

struct PortPair {
  uint16_t port = 0;
  uint16_t target_port = 0;
};

inline constexpr uint32_t kDefaultAffinityTimeout = 10800;  // kube-proxy's sessionAffinity default, 3 h
inline constexpr uint32_t kMaxAffinityTimeout = 65535;      // what the kernel value holds

struct Service {
  std::string name;
  std::vector<Addr> addresses;
  std::vector<PortPair> ports;
  Policy policy = Policy::random;
  std::vector<Scope> prefer;
  std::optional<HostPort> waypoint;
  // Keep the dialled address on each balanced socket, so getpeername() reports it;
  // unset: the file's top-level keep_original. A waypoint always keeps it.
  std::optional<bool> keep_original;
  std::vector<Endpoint> endpoints;
  int line = 0;
  // Session affinity by client (`affinity: client_ip`): a client's connects
  // within `affinity_timeout` seconds of its previous one go to the same
  // endpoint while it is one. At connect() a socket has usually no source
  // address yet, so the client is its network namespace (a pod, a container;
  // the host's processes are one client), as in Cilium's socket LB.
  bool affinity = false;
  uint32_t affinity_timeout = kDefaultAffinityTimeout;

  bool keeps_original(bool file_default) const { return waypoint || keep_original.value_or(file_default); }
};

// An address reached directly whose connections go to a waypoint.
struct Workload {
  Addr address;
  HostPort waypoint;
  int line = 0;
};

// A network namespace to enrol, by the path of its file (/run/netns/NAME).
struct NetnsEntry {
  std::string path;
  int line = 0;  // where the file names it, for errors found when it is opened
};

struct Config {
  Locality node;
  bool keep_original = true;  // the default of every service (see Service::keep_original)
  std::vector<Service> services;
  std::vector<Workload> workloads;
  std::vector<NetnsEntry> netns;  // empty: every network namespace
};

// Parses and validates `text`; errors name `filename` and the line. (Reading
// the file, with its size bound and checks for a half-written one, is
// config_file.h's.)
Result<Config> parse_config(std::string_view text, const std::string& filename);

// The tier (0 = best) an endpoint of `svc` belongs to on a node at `node`.
// random: 0. Otherwise the explicit priority, else the number of `prefer` scopes
// left after the longest prefix on which the endpoint's locality matches the node.
int endpoint_tier(const Service& svc, const Endpoint& ep, const Locality& node);

// The slots each endpoint of `svc` fills, as above: weight / gcd of the
// service's non-zero weights (0 for weight 0). The unit is that gcd; 0 when no
// endpoint has a weight above 0.
uint32_t weight_unit(const Service& svc);
inline uint32_t endpoint_slots(const Endpoint& ep, uint32_t unit) { return unit ? ep.weight / unit : 0; }

}  // namespace cgscope::lb
