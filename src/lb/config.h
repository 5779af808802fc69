// The lb configuration file: YAML in, a validated model out. Everything that can
// be wrong with a file is found here, before any map is touched, and reported as
// "file:line: what is wrong".
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cgscope::lb {

// An IP address in 16 bytes, network order: IPv6 as is, IPv4 as ::ffff:a.b.c.d
// (the form the kernel maps use, see include/cgscope/abi/lb.h).
struct Addr {
  std::array<uint8_t, 16> b{};
  bool is_v4() const;
  auto operator<=>(const Addr&) const = default;
};

Result<Addr> parse_addr(std::string_view text);
Addr addr_v4(uint32_t host_order);
std::string format_addr(const Addr& a);  // "10.0.0.1" or "fd00::1"

struct HostPort {
  Addr addr;
  uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};

// "10.0.0.1:15008" or "[fd00::1]:15008".
Result<HostPort> parse_host_port(std::string_view text);
std::string format_host_port(const HostPort& hp);  // the same forms

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
};

struct PortPair {
  uint16_t port = 0;
  uint16_t target_port = 0;
};

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

  bool keeps_original(bool file_default) const { return waypoint || keep_original.value_or(file_default); }
};

// An address reached directly whose connections go to a waypoint.
struct Workload {
  Addr address;
  HostPort waypoint;
  int line = 0;
};

struct Config {
  Locality node;
  bool keep_original = true;  // the default of every service (see Service::keep_original)
  std::vector<Service> services;
  std::vector<Workload> workloads;
  std::vector<std::string> netns;  // paths of network namespaces to enrol; empty: all
};

// Parses and validates `text`; errors name `filename` and the line.
Result<Config> parse_config(std::string_view text, const std::string& filename);
// Reads and parses the file at `path`.
Result<Config> load_config(const std::string& path);

// The tier (0 = best) an endpoint of `svc` belongs to on a node at `node`.
// random: 0. Otherwise the explicit priority, else the number of `prefer` scopes
// left after the longest prefix on which the endpoint's locality matches the node.
int endpoint_tier(const Service& svc, const Endpoint& ep, const Locality& node);

}  // namespace cgscope::lb
