#include "trace/netns_addrs.h"

#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "core/cgroup2.h"
#include "core/small_file.h"

namespace cgscope::trace {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <class Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    fn(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

void add_unique(std::vector<IpAddress>& out, const IpAddress& a) {
  if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string key_of(const IpAddress& a) {
  return std::string(1, static_cast<char>(a.family)) +
         std::string(reinterpret_cast<const char*>(a.bytes.data()), rtnl::address_size(a.family));
}

std::string server_key(const IpAddress& a, uint16_t port, bool udp) {
  return key_of(a) + static_cast<char>(udp) + static_cast<char>(port >> 8) + static_cast<char>(port & 0xff);
}

unsigned long netns_inode(const std::string& pid) {
  struct stat st {};
  return ::stat(("/proc/" + pid + "/ns/net").c_str(), &st) == 0 ? st.st_ino : 0;
}

// A process of the container's cgroup tree ("" if none runs there now).
std::string some_pid(const std::string& cgroup_abs) {
  std::string found;
  (void)walk_cgroup_tree(cgroup_abs, [&](const std::string& rel, int, uint64_t) {
    auto procs = read_small_file(cgroup_abs + (rel == "/" ? "" : rel) + "/cgroup.procs");
    if (procs) std::istringstream(*procs) >> found;
    return found.empty();
  }, CgroupWalkLimits{.max_depth = 8, .max_dirs = 256});
  return found;
}

}  // namespace

std::vector<IpAddress> parse_fib_trie_local(std::string_view text) {
  std::vector<IpAddress> out;
  std::optional<IpAddress> leaf;
  for_each_line(text, [&](std::string_view raw) {
    std::string_view line = trim(raw);
    if (line.starts_with("|-- ")) {
      auto a = rtnl::parse_ip(trim(line.substr(4)));
      leaf = a && a->family == AF_INET ? a : std::nullopt;
    } else if (line.starts_with("/32 ") && line.ends_with(" LOCAL") && leaf) {
      if (leaf->bytes[0] != 127) add_unique(out, *leaf);
    } else if (!line.starts_with("/")) {
      leaf.reset();  // a node, or a table's name: the leaf's routes are over
    }
  });
  return out;
}

std::vector<IpAddress> parse_if_inet6(std::string_view text) {
  std::vector<IpAddress> out;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    // 32 hex digits, then index, prefix length, scope (00: global), flags, name.
    if (line.size() < 32) return;
    IpAddress a{AF_INET6, {}};
    for (size_t i = 0; i < 16; i++) {
      int hi = hex_digit(line[2 * i]), lo = hex_digit(line[2 * i + 1]);
      if (hi < 0 || lo < 0) return;
      a.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    std::istringstream rest{std::string(line.substr(32))};
    std::string index, prefix, scope;
    if (!(rest >> index >> prefix >> scope) || scope != "00") return;
    add_unique(out, a);
  });
  return out;
}

void AddressBook::add_namespace(const std::string& pid, const Place& place) {
  unsigned long ns = netns_inode(pid);
  if (!ns || std::find(seen_netns_.begin(), seen_netns_.end(), ns) != seen_netns_.end()) return;
  seen_netns_.push_back(ns);
  std::vector<IpAddress> addrs;
  if (auto v4 = read_small_file("/proc/" + pid + "/net/fib_trie")) addrs = parse_fib_trie_local(*v4);
  if (auto v6 = read_small_file("/proc/" + pid + "/net/if_inet6"))
    for (const IpAddress& a : parse_if_inet6(*v6)) addrs.push_back(a);
  for (const IpAddress& a : addrs) owners_.emplace(key_of(a), place);
  add_servers(pid, addrs);
}

// A server bound to any address serves each of the namespace's (an IPv6 one
// bound to :: the IPv4 ones too, unless it is v6-only, which /proc does not say:
// a v4 listener on the same port, if any, is found first).
void AddressBook::add_servers(const std::string& pid, const std::vector<IpAddress>& addrs) {
  constexpr size_t kLimit = 64 << 20;  // 150 bytes a row: some 400,000 sockets
  std::vector<std::pair<ProcSocket, bool>> wildcards;  // the kernel prefers a specific bind: those go in first
  for (const char* file : {"tcp", "udp", "tcp6", "udp6"}) {
    bool udp = file[0] == 'u';
    auto text = read_small_file("/proc/" + pid + "/net/" + file, kLimit);
    if (!text) continue;
    for (const ProcSocket& s : servers_of(parse_proc_net_sockets(*text), udp)) {
      if (std::all_of(s.local.bytes.begin(), s.local.bytes.end(), [](uint8_t b) { return b == 0; }))
        wildcards.emplace_back(s, udp);
      else
        server_inodes_.emplace(server_key(s.local, s.port, udp), s.inode);
    }
  }
  for (const auto& [s, udp] : wildcards)
    for (const IpAddress& a : addrs)
      if (a.family == s.local.family || s.local.family == AF_INET6)
        server_inodes_.emplace(server_key(a, s.port, udp), s.inode);
}

void AddressBook::refresh(const std::vector<ContainerInfo>& containers) {
  owners_.clear();
  seen_netns_.clear();
  server_inodes_.clear();
  servers_.clear();
  // The host first: a container sharing its namespace (--network host) is the host's.
  add_namespace("self", Place{PlaceKind::host});
  for (const ContainerInfo& c : containers) {
    std::string pid = some_pid(mount_ + (c.cgroup_path == "/" ? "" : c.cgroup_path));
    if (!pid.empty()) add_namespace(pid, Place{PlaceKind::container, c.id, c.runtime});
  }
  std::vector<uint64_t> inodes;
  for (const auto& [key, inode] : server_inodes_) inodes.push_back(inode);
  auto holders = find_socket_holders(inodes);
  for (const auto& [key, inode] : server_inodes_)
    if (auto h = holders.find(inode); h != holders.end()) servers_.emplace(key, h->second);
  refreshed_ = std::chrono::steady_clock::now();
}

std::optional<SocketHolder> AddressBook::server(const IpAddress& addr, uint16_t port, bool udp) const {
  auto it = servers_.find(server_key(addr, port, udp));
  if (it == servers_.end()) return std::nullopt;
  return it->second;
}

std::optional<Place> AddressBook::owner(const IpAddress& addr) const {
  auto it = owners_.find(key_of(addr));
  if (it == owners_.end()) return std::nullopt;
  return it->second;
}

bool AddressBook::stale(std::chrono::steady_clock::duration interval) const {
  return std::chrono::steady_clock::now() - refreshed_ >= interval;
}

}  // namespace cgscope::trace
