#include "lb/config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "cgscope/abi/lb.h"

namespace cgscope::lb {

bool Addr::is_v4() const {
  for (int i = 0; i < 10; i++)
    if (b[i] != 0) return false;
  return b[10] == 0xff && b[11] == 0xff;
}

Addr addr_v4(uint32_t host_order) {
  Addr a;
  a.b[10] = a.b[11] = 0xff;
  a.b[12] = host_order >> 24;
  a.b[13] = host_order >> 16;
  a.b[14] = host_order >> 8;
  a.b[15] = host_order;
  return a;
}

Result<Addr> parse_addr(std::string_view text) {
  std::string s(text);
  Addr a;
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return addr_v4(ntohl(v4.s_addr));
  if (s.find(':') != std::string::npos && inet_pton(AF_INET6, s.c_str(), a.b.data()) == 1) return a;
  return fail(fmt::format("'{}' is not an IPv4 or IPv6 address", s), EINVAL);
}

std::string format_addr(const Addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.is_v4()) inet_ntop(AF_INET, a.b.data() + 12, buf, sizeof(buf));
  else inet_ntop(AF_INET6, a.b.data(), buf, sizeof(buf));
  return buf;
}

static Result<uint16_t> parse_port_text(std::string_view s) {
  if (s.empty() || s.size() > 5) return fail(fmt::format("'{}' is not a port (1-65535)", s), EINVAL);
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return fail(fmt::format("'{}' is not a port (1-65535)", s), EINVAL);
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 65535) return fail(fmt::format("'{}' is not a port (1-65535)", s), EINVAL);
  return static_cast<uint16_t>(v);
}

Result<HostPort> parse_host_port(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(fmt::format("'{}' is not ADDRESS:PORT ([v6]:PORT for IPv6)", text), EINVAL);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon)
      return fail(fmt::format("'{}' is not ADDRESS:PORT ([v6]:PORT for IPv6)", text), EINVAL);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto a = parse_addr(host);
  if (!a) return fail_with(a.error());
  auto p = parse_port_text(port);
  if (!p) return fail_with(p.error());
  return HostPort{*a, *p};
}

std::string format_host_port(const HostPort& hp) {
  if (hp.addr.is_v4()) return fmt::format("{}:{}", format_addr(hp.addr), hp.port);
  return fmt::format("[{}]:{}", format_addr(hp.addr), hp.port);
}

const char* policy_name(Policy p) {
  switch (p) {
    case Policy::random: return "random";
    case Policy::strict: return "strict";
    case Policy::failover: return "failover";
  }
  return "?";
}

const char* scope_name(Scope s) {
  static const char* names[kScopes] = {"region", "zone", "subzone", "node"};
  return names[static_cast<int>(s)];
}

int endpoint_tier(const Service& svc, const Endpoint& ep, const Locality& node) {
  if (svc.policy == Policy::random) return 0;
  if (ep.priority) return *ep.priority;
  int k = static_cast<int>(svc.prefer.size());
  if (!ep.locality) return k;
  int matched = 0;
  for (Scope s : svc.prefer) {
    const std::string& want = node.get(s);
    if (want.empty() || ep.locality->get(s) != want) break;
    matched++;
  }
  return k - matched;
}

namespace {

// Parsing with positions: every error is thrown as a ConfigError and turned into
// a Result at the top, so the walk below reads as a description of the format.
struct ConfigError {
  int line;
  std::string what;
};

[[noreturn]] void bad(const YAML::Node& n, std::string what) {
  throw ConfigError{n.Mark().line >= 0 ? n.Mark().line + 1 : 0, std::move(what)};
}

void only_keys(const YAML::Node& map, std::initializer_list<const char*> keys, const char* where) {
  if (!map.IsMap()) bad(map, fmt::format("{} must be a mapping", where));
  for (const auto& kv : map) {
    std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
    bool ok = false;
    for (const char* want : keys) ok = ok || k == want;
    if (!ok) {
      std::string list;
      for (const char* want : keys) list += list.empty() ? want : std::string(", ") + want;
      bad(kv.first, fmt::format("unknown key '{}' in {} (expected one of: {})", k, where, list));
    }
  }
}

std::string scalar(const YAML::Node& n, const char* what) {
  if (!n.IsScalar()) bad(n, fmt::format("{} must be a single value", what));
  return n.Scalar();
}

long integer(const YAML::Node& n, const char* what, long lo, long hi) {
  std::string s = scalar(n, what);
  long v = 0;
  bool ok = !s.empty() && s.size() <= 9;
  for (char c : s) ok = ok && c >= '0' && c <= '9';
  if (ok) v = std::stol(s);
  if (!ok || v < lo || v > hi) bad(n, fmt::format("{} '{}' must be a whole number from {} to {}", what, s, lo, hi));
  return v;
}

Addr address(const YAML::Node& n, const char* what) {
  auto a = parse_addr(scalar(n, what));
  if (!a) bad(n, fmt::format("{}: {}", what, a.error().message));
  Addr zero4 = addr_v4(0), zero6;
  if (*a == zero4 || *a == zero6) bad(n, fmt::format("{}: the unspecified address cannot be used", what));
  return *a;
}

HostPort host_port(const YAML::Node& n, const char* what) {
  auto hp = parse_host_port(scalar(n, what));
  if (!hp) bad(n, fmt::format("{}: {}", what, hp.error().message));
  return *hp;
}

const YAML::Node& seq(const YAML::Node& n, const char* what) {
  if (!n.IsSequence()) bad(n, fmt::format("{} must be a list", what));
  return n;
}

Locality locality(const YAML::Node& n, const char* where) {
  only_keys(n, {"region", "zone", "subzone", "node"}, where);
  Locality l;
  for (int i = 0; i < kScopes; i++) {
    const char* k = scope_name(static_cast<Scope>(i));
    if (n[k]) l.v[i] = scalar(n[k], k);
  }
  return l;
}

Endpoint endpoint(const YAML::Node& n) {
  only_keys(n, {"address", "locality", "priority"}, "an endpoint");
  Endpoint e;
  e.line = n.Mark().line + 1;
  if (!n["address"]) bad(n, "endpoint has no address");
  e.address = address(n["address"], "endpoint address");
  if (n["locality"]) e.locality = locality(n["locality"], "locality");
  if (n["priority"]) {
    if (e.locality) bad(n["priority"], "an endpoint takes locality or priority, not both");
    e.priority = static_cast<int>(integer(n["priority"], "priority", 0, CGS_LB_TIERS - 1));
  }
  return e;
}

Service service(const YAML::Node& n) {
  only_keys(n, {"name", "addresses", "ports", "policy", "prefer", "waypoint", "endpoints"}, "a service");
  Service s;
  s.line = n.Mark().line + 1;
  if (!n["name"]) bad(n, "service has no name");
  s.name = scalar(n["name"], "name");
  if (s.name.empty() || s.name.size() >= CGS_LB_NAME_LEN)
    bad(n["name"], fmt::format("service name must be 1 to {} characters", CGS_LB_NAME_LEN - 1));
  for (char c : s.name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) bad(n["name"], "service name has a control character");

  if (!n["addresses"]) bad(n, fmt::format("service {} has no addresses", s.name));
  for (const auto& a : seq(n["addresses"], "addresses")) {
    Addr ad = address(a, "service address");
    for (const Addr& have : s.addresses)
      if (have == ad) bad(a, fmt::format("address {} is listed twice", format_addr(ad)));
    s.addresses.push_back(ad);
  }
  if (s.addresses.empty()) bad(n["addresses"], fmt::format("service {} has no addresses", s.name));

  if (!n["ports"]) bad(n, fmt::format("service {} has no ports", s.name));
  for (const auto& p : seq(n["ports"], "ports")) {
    PortPair pp;
    if (p.IsScalar()) {
      pp.port = pp.target_port = static_cast<uint16_t>(integer(p, "port", 1, 65535));
    } else {
      only_keys(p, {"port", "target_port"}, "a port");
      if (!p["port"]) bad(p, "port pair has no port");
      pp.port = static_cast<uint16_t>(integer(p["port"], "port", 1, 65535));
      pp.target_port =
          p["target_port"] ? static_cast<uint16_t>(integer(p["target_port"], "target_port", 1, 65535)) : pp.port;
    }
    for (const PortPair& have : s.ports)
      if (have.port == pp.port) bad(p, fmt::format("port {} is listed twice", pp.port));
    s.ports.push_back(pp);
  }
  if (s.ports.empty()) bad(n["ports"], fmt::format("service {} has no ports", s.name));
  if (s.ports.size() > CGS_LB_MAX_PORTS)
    bad(n["ports"], fmt::format("service {} has {} ports; at most {} fit", s.name, s.ports.size(), CGS_LB_MAX_PORTS));

  if (n["policy"]) {
    std::string p = scalar(n["policy"], "policy");
    if (p == "random") s.policy = Policy::random;
    else if (p == "strict") s.policy = Policy::strict;
    else if (p == "failover") s.policy = Policy::failover;
    else bad(n["policy"], fmt::format("policy '{}' is not one of random, strict, failover", p));
  }
  if (n["prefer"]) {
    for (const auto& p : seq(n["prefer"], "prefer")) {
      std::string v = scalar(p, "prefer");
      int found = -1;
      for (int i = 0; i < kScopes; i++)
        if (v == scope_name(static_cast<Scope>(i))) found = i;
      if (found < 0) bad(p, fmt::format("prefer '{}' is not one of region, zone, subzone, node", v));
      for (Scope have : s.prefer)
        if (static_cast<int>(have) == found) bad(p, fmt::format("prefer lists '{}' twice", v));
      s.prefer.push_back(static_cast<Scope>(found));
    }
  }
  if (n["waypoint"]) s.waypoint = host_port(n["waypoint"], "waypoint");
  if (n["endpoints"]) {
    for (const auto& e : seq(n["endpoints"], "endpoints")) {
      Endpoint ep = endpoint(e);
      for (const Endpoint& have : s.endpoints)
        if (have.address == ep.address)
          bad(e, fmt::format("endpoint {} is listed twice in service {}", format_addr(ep.address), s.name));
      s.endpoints.push_back(std::move(ep));
    }
  }
  return s;
}

Workload workload(const YAML::Node& n) {
  only_keys(n, {"address", "waypoint"}, "a workload");
  Workload w;
  w.line = n.Mark().line + 1;
  if (!n["address"]) bad(n, "workload has no address");
  if (!n["waypoint"]) bad(n, "workload has no waypoint (a workload without one needs no entry)");
  w.address = address(n["address"], "workload address");
  w.waypoint = host_port(n["waypoint"], "waypoint");
  if (w.address.is_v4() && !w.waypoint.addr.is_v4())
    bad(n["waypoint"], "an IPv4 workload needs an IPv4 waypoint: an IPv4 socket cannot be sent to IPv6");
  return w;
}

// Rules across entries, once each entry is valid on its own.
void cross_check(const Config& c, const YAML::Node& root) {
  std::map<Addr, std::string> owner;  // frontend address -> who has it
  std::set<std::string> names;
  std::map<Addr, const Workload*> workloads;
  for (const Workload& w : c.workloads) {
    if (owner.count(w.address))
      throw ConfigError{w.line, fmt::format("workload address {} is listed twice", format_addr(w.address))};
    owner[w.address] = "a workload";
    workloads[w.address] = &w;
  }
  size_t endpoints = 0;
  std::set<Addr> backends;
  for (const Workload& w : c.workloads) backends.insert(w.address);
  for (const Service& s : c.services) {
    if (!names.insert(s.name).second)
      throw ConfigError{s.line, fmt::format("service name '{}' is used twice", s.name)};
    bool has_v4 = false;
    for (const Addr& a : s.addresses) {
      auto it = owner.find(a);
      if (it != owner.end())
        throw ConfigError{s.line, fmt::format("service {}: address {} is already used by {}", s.name,
                                              format_addr(a), it->second)};
      owner[a] = "service " + s.name;
      has_v4 = has_v4 || a.is_v4();
    }
    if (has_v4 && s.waypoint && !s.waypoint->addr.is_v4())
      throw ConfigError{s.line, fmt::format("service {} has an IPv4 address, so its waypoint must be IPv4", s.name)};
    for (const Endpoint& e : s.endpoints) {
      const Addr* reached = &e.address;
      auto w = workloads.find(e.address);
      if (w != workloads.end()) reached = &w->second->waypoint.addr;
      if (has_v4 && !reached->is_v4())
        throw ConfigError{e.line, fmt::format("service {} has an IPv4 address, so endpoint {} must be IPv4: an "
                                              "IPv4 socket cannot be sent to IPv6",
                                              s.name, format_addr(e.address))};
      backends.insert(e.address);
    }
    endpoints += s.endpoints.size();
  }
  auto over = [&](size_t have, size_t cap, const char* what) {
    if (have > cap)
      throw ConfigError{root.Mark().line + 1,
                        fmt::format("{} {} but the maps hold at most {}", have, what, cap)};
  };
  over(c.services.size(), CGS_LB_MAX_SERVICES, "services");
  over(owner.size(), CGS_LB_MAX_FRONTENDS, "service and workload addresses");
  over(endpoints, CGS_LB_MAX_ENDPOINTS, "endpoints");
  over(backends.size(), CGS_LB_MAX_BACKENDS, "distinct backend addresses");
}

// yaml-cpp recurses once per level of flow nesting; a hostile "[[[[..." must be
// an error, not a stack overflow.
bool nesting_too_deep(std::string_view text) {
  int depth = 0;
  char quote = 0;
  bool comment = false;
  for (char ch : text) {
    if (ch == '\n') comment = false, quote = 0;
    if (comment) continue;
    if (quote) {
      if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '#') comment = true;
    else if (ch == '"' || ch == '\'') quote = ch;
    else if (ch == '[' || ch == '{') {
      if (++depth > 32) return true;
    } else if ((ch == ']' || ch == '}') && depth > 0) depth--;
  }
  return false;
}

}  // namespace

Result<Config> parse_config(std::string_view text, const std::string& filename) {
  if (nesting_too_deep(text)) return fail(fmt::format("{}: brackets nested more than 32 deep", filename), EINVAL);
  try {
    YAML::Node root = YAML::Load(std::string(text));
    Config c;
    if (!root || root.IsNull()) throw ConfigError{1, "the file is empty; it needs at least 'services:'"};
    only_keys(root, {"node", "services", "workloads", "netns"}, "the top level");
    if (root["node"]) c.node = locality(root["node"], "node");
    if (root["services"] && !root["services"].IsNull())
      for (const auto& s : seq(root["services"], "services")) c.services.push_back(service(s));
    if (root["workloads"] && !root["workloads"].IsNull())
      for (const auto& w : seq(root["workloads"], "workloads")) c.workloads.push_back(workload(w));
    if (root["netns"] && !root["netns"].IsNull())
      for (const auto& n : seq(root["netns"], "netns")) {
        std::string p = scalar(n, "netns");
        if (p.empty() || p[0] != '/') bad(n, fmt::format("netns '{}' must be an absolute path (/run/netns/NAME)", p));
        c.netns.push_back(p);
      }
    cross_check(c, root);
    return c;
  } catch (const ConfigError& e) {
    return fail(fmt::format("{}:{}: {}", filename, e.line, e.what), EINVAL);
  } catch (const YAML::Exception& e) {
    return fail(fmt::format("{}:{}: {}", filename, e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg), EINVAL);
  }
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail_errno(fmt::format("opening {}", path), errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail_errno(fmt::format("reading {}", path), errno);
  return parse_config(ss.str(), path);
}

}  // namespace cgscope::lb
