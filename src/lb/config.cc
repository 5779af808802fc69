#include "lb/config.h"

#include <numeric>
#include <set>

#include <fmt/format.h>

#include "cgscope/abi/lb.h"
#include "core/yaml_doc.h"
#include "lb/config_rules.h"

namespace cgscope::lb {

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

uint32_t weight_unit(const Service& svc) {
  uint32_t g = 0;
  for (const Endpoint& e : svc.endpoints) g = std::gcd(g, e.weight);
  return g;
}

namespace {

// Parsing with positions: every error is thrown as a ConfigProblem and turned
// into a Result at the top, so the walk below reads as a description of the format.
[[noreturn]] void bad(const YamlNode& n, std::string what) { throw ConfigProblem{n.line(), std::move(what)}; }

void only_keys(const YamlNode& map, std::initializer_list<const char*> keys, const char* where) {
  if (!map.is_map()) bad(map, fmt::format("{} must be a mapping", where));
  for (const YamlEntry& kv : map.entries()) {
    std::string_view k = kv.key.scalar();  // "" for a key that is not a scalar
    bool ok = false;
    for (const char* want : keys) ok = ok || k == want;
    if (!ok) {
      std::string list;
      for (const char* want : keys) list += list.empty() ? want : std::string(", ") + want;
      bad(kv.key, fmt::format("unknown key '{}' in {} (expected one of: {})", k, where, list));
    }
  }
}

std::string scalar(const YamlNode& n, const char* what) {
  if (!n.is_scalar()) bad(n, fmt::format("{} must be a single value", what));
  return std::string(n.scalar());
}

long integer(const YamlNode& n, const char* what, long lo, long hi) {
  std::string s = scalar(n, what);
  long v = 0;
  bool ok = !s.empty() && s.size() <= 9;
  for (char c : s) ok = ok && c >= '0' && c <= '9';
  if (ok) v = std::stol(s);
  if (!ok || v < lo || v > hi) bad(n, fmt::format("{} '{}' must be a whole number from {} to {}", what, s, lo, hi));
  return v;
}

bool boolean(const YamlNode& n, const char* what) {
  std::string s = scalar(n, what);
  if (s == "true") return true;
  if (s == "false") return false;
  bad(n, fmt::format("{} '{}' must be true or false", what, s));
}

Addr address(const YamlNode& n, const char* what, AddrRole role) {
  auto a = parse_addr(scalar(n, what));
  if (!a) bad(n, fmt::format("{}: {}", what, a.error().message));
  if (auto why = unusable_as(*a, role)) bad(n, fmt::format("{}: {}", what, *why));
  return *a;
}

HostPort host_port(const YamlNode& n, const char* what) {
  auto hp = parse_host_port(scalar(n, what));
  if (!hp) bad(n, fmt::format("{}: {}", what, hp.error().message));
  if (auto why = unusable_as(hp->addr, AddrRole::waypoint)) bad(n, fmt::format("{}: {}", what, *why));
  return *hp;
}

const YamlNode& seq(const YamlNode& n, const char* what) {
  if (!n.is_seq()) bad(n, fmt::format("{} must be a list", what));
  return n;
}

Locality locality(const YamlNode& n, const char* where) {
  only_keys(n, {"region", "zone", "subzone", "node"}, where);
  Locality l;
  for (int i = 0; i < kScopes; i++) {
    const char* k = scope_name(static_cast<Scope>(i));
    if (const YamlNode* v = n.find(k)) l.v[i] = scalar(*v, k);
  }
  return l;
}

Endpoint endpoint(const YamlNode& n) {
  only_keys(n, {"address", "locality", "priority", "weight"}, "an endpoint");
  Endpoint e;
  e.line = n.line();
  const YamlNode* addr = n.find("address");
  if (!addr) bad(n, "endpoint has no address");
  e.address = address(*addr, "endpoint address", AddrRole::endpoint);
  if (const YamlNode* l = n.find("locality")) e.locality = locality(*l, "locality");
  if (const YamlNode* p = n.find("priority")) {
    if (e.locality) bad(*p, "an endpoint takes locality or priority, not both");
    e.priority = static_cast<int>(integer(*p, "priority", 0, CGS_LB_TIERS - 1));
  }
  if (const YamlNode* w = n.find("weight")) e.weight = static_cast<uint32_t>(integer(*w, "weight", 0, kMaxWeight));
  return e;
}

void service_name(const YamlNode& n, Service& s) {
  const YamlNode* name = n.find("name");
  if (!name) bad(n, "service has no name");
  s.name = scalar(*name, "name");
  if (s.name.empty() || s.name.size() >= CGS_LB_NAME_LEN)
    bad(*name, fmt::format("service name must be 1 to {} characters", CGS_LB_NAME_LEN - 1));
  for (char c : s.name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) bad(*name, "service name has a control character");
}

void service_addresses(const YamlNode& n, Service& s) {
  const YamlNode* addresses = n.find("addresses");
  if (!addresses) bad(n, fmt::format("service {} has no addresses", s.name));
  std::set<Addr> seen;
  for (const YamlNode& a : seq(*addresses, "addresses").items()) {
    Addr ad = address(a, "service address", AddrRole::service);
    if (!seen.insert(ad).second) bad(a, fmt::format("address {} is listed twice", format_addr(ad)));
    s.addresses.push_back(ad);
  }
  if (s.addresses.empty()) bad(*addresses, fmt::format("service {} has no addresses", s.name));
}

PortPair port_pair(const YamlNode& p) {
  PortPair pp;
  if (p.is_scalar()) {
    pp.port = pp.target_port = static_cast<uint16_t>(integer(p, "port", 1, 65535));
    return pp;
  }
  only_keys(p, {"port", "target_port"}, "a port");
  const YamlNode* port = p.find("port");
  if (!port) bad(p, "port pair has no port");
  pp.port = static_cast<uint16_t>(integer(*port, "port", 1, 65535));
  const YamlNode* target = p.find("target_port");
  pp.target_port = target ? static_cast<uint16_t>(integer(*target, "target_port", 1, 65535)) : pp.port;
  return pp;
}

void service_ports(const YamlNode& n, Service& s) {
  const YamlNode* ports = n.find("ports");
  if (!ports) bad(n, fmt::format("service {} has no ports", s.name));
  for (const YamlNode& p : seq(*ports, "ports").items()) {
    PortPair pp = port_pair(p);
    for (const PortPair& have : s.ports)
      if (have.port == pp.port) bad(p, fmt::format("port {} is listed twice", pp.port));
    s.ports.push_back(pp);
    if (s.ports.size() > CGS_LB_MAX_PORTS)
      bad(*ports, fmt::format("service {} lists more than {} ports; at most {} fit", s.name, CGS_LB_MAX_PORTS,
                              CGS_LB_MAX_PORTS));
  }
  if (s.ports.empty()) bad(*ports, fmt::format("service {} has no ports", s.name));
}

void service_choice(const YamlNode& n, Service& s) {
  if (const YamlNode* policy = n.find("policy")) {
    std::string p = scalar(*policy, "policy");
    if (p == "random") s.policy = Policy::random;
    else if (p == "strict") s.policy = Policy::strict;
    else if (p == "failover") s.policy = Policy::failover;
    else bad(*policy, fmt::format("policy '{}' is not one of random, strict, failover", p));
  }
  const YamlNode* prefer = n.find("prefer");
  if (!prefer) return;
  for (const YamlNode& p : seq(*prefer, "prefer").items()) {
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

void service_endpoints(const YamlNode& n, Service& s) {
  const YamlNode* endpoints = n.find("endpoints");
  if (!endpoints) return;
  std::set<Addr> seen;  // a set: one service may list 100,000 endpoints
  for (const YamlNode& e : seq(*endpoints, "endpoints").items()) {
    Endpoint ep = endpoint(e);
    if (!seen.insert(ep.address).second)
      bad(e, fmt::format("endpoint {} is listed twice in service {}", format_addr(ep.address), s.name));
    s.endpoints.push_back(std::move(ep));
  }
}

// `affinity: client_ip` (or `none`), `affinity_timeout: SECONDS` with it.
void service_affinity(const YamlNode& n, Service& s) {
  if (const YamlNode* a = n.find("affinity")) {
    std::string v = scalar(*a, "affinity");
    if (v != "client_ip" && v != "none") bad(*a, fmt::format("affinity '{}' must be client_ip or none", v));
    s.affinity = v == "client_ip";
    if (s.affinity && s.waypoint)
      bad(*a, fmt::format("service {} sends every connect to its waypoint: affinity has no endpoint to keep", s.name));
  }
  if (const YamlNode* t = n.find("affinity_timeout")) {
    if (!s.affinity) bad(*t, fmt::format("service {} has affinity_timeout but no affinity: client_ip", s.name));
    s.affinity_timeout = static_cast<uint32_t>(integer(*t, "affinity_timeout", 1, kMaxAffinityTimeout));
  }
}

Service service(const YamlNode& n) {
  only_keys(n,
            {"name", "addresses", "ports", "policy", "prefer", "waypoint", "keep_original", "endpoints", "affinity",
             "affinity_timeout"},
            "a service");
  Service s;
  s.line = n.line();
  service_name(n, s);
  service_addresses(n, s);
  service_ports(n, s);
  service_choice(n, s);
  if (const YamlNode* w = n.find("waypoint")) s.waypoint = host_port(*w, "waypoint");
  if (const YamlNode* k = n.find("keep_original")) {
    s.keep_original = boolean(*k, "keep_original");
    if (s.waypoint && !*s.keep_original)
      bad(*k, fmt::format("service {} has a waypoint, which needs the original destination: keep_original "
                          "cannot be false",
                          s.name));
  }
  service_endpoints(n, s);
  service_affinity(n, s);
  return s;
}

Workload workload(const YamlNode& n) {
  only_keys(n, {"address", "waypoint"}, "a workload");
  Workload w;
  w.line = n.line();
  const YamlNode* addr = n.find("address");
  const YamlNode* waypoint = n.find("waypoint");
  if (!addr) bad(n, "workload has no address");
  if (!waypoint) bad(n, "workload has no waypoint (a workload without one needs no entry)");
  w.address = address(*addr, "workload address", AddrRole::workload);
  w.waypoint = host_port(*waypoint, "waypoint");
  if (w.address.is_v4() && !w.waypoint.addr.is_v4())
    bad(*waypoint, "an IPv4 workload needs an IPv4 waypoint: an IPv4 socket cannot be sent to IPv6");
  return w;
}

std::vector<NetnsEntry> netns_list(const YamlNode& list) {
  std::vector<NetnsEntry> out;
  std::set<std::string> seen;
  for (const YamlNode& n : seq(list, "netns").items()) {
    std::string p = scalar(n, "netns");
    if (p.empty() || p[0] != '/') bad(n, fmt::format("netns '{}' must be an absolute path (/run/netns/NAME)", p));
    if (!seen.insert(p).second) bad(n, fmt::format("netns {} is listed twice", p));
    out.push_back({p, n.line()});
  }
  return out;
}

Config config_of(const YamlNode& root) {
  Config c;
  if (root.is_null()) throw ConfigProblem{1, "the file is empty; it needs at least 'services:'"};
  only_keys(root, {"node", "keep_original", "services", "workloads", "netns"}, "the top level");
  if (const YamlNode* node = root.find("node")) c.node = locality(*node, "node");
  if (const YamlNode* k = root.find("keep_original")) c.keep_original = boolean(*k, "keep_original");
  const YamlNode* services = root.find("services");
  if (services && !services->is_null())
    for (const YamlNode& s : seq(*services, "services").items()) c.services.push_back(service(s));
  const YamlNode* workloads = root.find("workloads");
  if (workloads && !workloads->is_null())
    for (const YamlNode& w : seq(*workloads, "workloads").items()) c.workloads.push_back(workload(w));
  const YamlNode* netns = root.find("netns");
  if (netns && !netns->is_null()) c.netns = netns_list(*netns);
  if (auto p = cross_check(c, root.line())) throw *p;
  return c;
}

// Deeper nesting has no place in this format. (The check dates from yaml-cpp,
// which recursed per level; parse_yaml does not, but the message is clearer
// than what a parser says about a hostile "[[[[...".)
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
  auto doc = parse_yaml(text);
  if (!doc) {
    // "line N: problem" becomes "FILE:N: problem".
    std::string_view m = doc.error().message;
    if (m.starts_with("line ")) return fail(fmt::format("{}:{}", filename, m.substr(5)), EINVAL);
    return fail(fmt::format("{}: {}", filename, m), EINVAL);
  }
  try {
    return config_of(doc->root());
  } catch (const ConfigProblem& e) {
    return fail(fmt::format("{}:{}: {}", filename, e.line, e.what), EINVAL);
  }
}

}  // namespace cgscope::lb
