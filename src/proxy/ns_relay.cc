#include "proxy/ns_relay.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/small_file.h"

namespace cgscope::proxy {
namespace {

struct HostAddr {
  std::string dev;
  uint32_t addr;  // network order
};

// The host's IPv4 addresses but loopback's.
std::vector<HostAddr> host_addresses() {
  std::vector<HostAddr> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK)) continue;
    out.push_back({i->ifa_name, reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr});
  }
  freeifaddrs(list);
  return out;
}

bool is_bridge(const std::string& dev) {
  struct stat st{};
  return ::stat(fmt::format("/sys/class/net/{}/bridge", dev).c_str(), &st) == 0;
}

NsRelayChoice choice(uint32_t addr, std::string why) {
  NsRelayChoice c;
  auto* s = reinterpret_cast<sockaddr_in*>(&c.addr);
  s->sin_family = AF_INET;
  s->sin_addr.s_addr = addr;
  c.why = std::move(why);
  return c;
}

ino_t netns_inode(const std::string& pid) {
  struct stat st{};
  return ::stat(fmt::format("/proc/{}/ns/net", pid).c_str(), &st) == 0 ? st.st_ino : 0;
}

// Rule 1: a process of the cgroup in another namespace, and its route to the host.
std::optional<NsRelayChoice> from_processes(const std::string& cgroup_path, const std::vector<uint32_t>& host) {
  ino_t own = netns_inode("self");
  std::optional<NsRelayChoice> found;
  (void)walk_cgroup_tree(cgroup_path, [&](const std::string& rel, int, uint64_t) {
    auto procs = read_small_file(cgroup_path + (rel == "/" ? "" : rel) + "/cgroup.procs");
    if (!procs) return true;
    std::istringstream in(*procs);
    for (std::string pid; in >> pid && !found;) {
      ino_t ns = netns_inode(pid);
      if (!ns || ns == own) continue;
      auto routes = read_small_file(fmt::format("/proc/{}/net/route", pid));
      if (!routes) continue;
      if (auto a = route_to_host(parse_proc_route(*routes), host))
        found = choice(*a, fmt::format("the host address that pid {}'s network namespace routes to", pid));
    }
    return !found;
  });
  return found;
}

}  // namespace

std::vector<RouteLine> parse_proc_route(std::string_view text) {
  std::vector<RouteLine> out;
  std::istringstream in{std::string(text)};
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line) && out.size() < 4096) {
    std::istringstream f(line);
    std::string dev, dst, gw, flags, refcnt, use, metric, mask;
    if (!(f >> dev >> dst >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    auto hex = [](const std::string& s, uint32_t& v) {
      if (s.size() != 8) return false;
      char* end = nullptr;
      unsigned long x = std::strtoul(s.c_str(), &end, 16);
      v = uint32_t(x);
      return *end == 0;
    };
    RouteLine r;
    r.dev = dev;
    if (hex(dst, r.dst) && hex(gw, r.gateway) && hex(mask, r.mask)) out.push_back(r);
  }
  return out;
}

std::optional<uint32_t> route_to_host(const std::vector<RouteLine>& routes, const std::vector<uint32_t>& host) {
  auto on_host = [&](uint32_t a) { return a && std::find(host.begin(), host.end(), a) != host.end(); };
  for (const RouteLine& r : routes)
    if (r.dst == 0 && r.mask == 0 && on_host(r.gateway)) return r.gateway;
  for (const RouteLine& r : routes)
    if (r.mask == 0xffffffffu && r.gateway == 0 && on_host(r.dst)) return r.dst;
  return std::nullopt;
}

Result<std::optional<NsRelayChoice>> pick_ns_relay(const std::string& cgroup_path) {
  std::vector<HostAddr> host = host_addresses();
  std::vector<uint32_t> addrs;
  for (const HostAddr& h : host) addrs.push_back(h.addr);
  if (auto c = from_processes(cgroup_path, addrs)) return c;
  for (const HostAddr& h : host)
    if (h.dev == "docker0") return std::optional(choice(h.addr, "docker0's address"));
  for (const HostAddr& h : host)
    if (is_bridge(h.dev)) return std::optional(choice(h.addr, fmt::format("the address of the bridge {}", h.dev)));
  return std::optional<NsRelayChoice>{};
}

}  // namespace cgscope::proxy
