#include "proxy/hooks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <span>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/dir_lock.h"
#include "core/pinned_hooks.h"
#include "core/sock_cookie.h"
#include "core/unique_fd.h"
#include "proxy.skel.h"

namespace cgscope::proxy {
namespace {

constexpr const char* kLinkNames[] = {"link_connect4",  "link_connect6", "link_getpeername4", "link_getpeername6",
                                      "link_sockops",   "link_sendmsg4", "link_sendmsg6",     "link_recvmsg4",
                                      "link_recvmsg6", "link_dns_egress"};
constexpr size_t kTcpLinks = 5;  // the first five; the rest are DNS's
constexpr const char* kMapNames[] = {"proxy_config", "proxy_bypass", "proxy_orig",     "proxy_conns",
                                     "proxy_exempt", "proxy_stats",  "proxy_dns_slots",
                                     "proxy_dns_clients", "proxy_flows", "proxy_open"};

std::string join(const std::string& dir, std::string_view name) { return dir + "/" + std::string(name); }

// An address in the ABI's 16-byte form (mapped for IPv4) and its port, network order.
void to_abi(const sockaddr_storage& ss, cgs_addr& addr, __u16& port) {
  addr = {};
  if (ss.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
    addr.a[2] = htonl(0xffff);
    addr.a[3] = s->sin_addr.s_addr;
    port = s->sin_port;
  } else if (ss.ss_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&ss);
    std::memcpy(addr.a, &s->sin6_addr, 16);
    port = s->sin6_port;
  } else {
    port = 0;
  }
}

}  // namespace

// The ABI form back as a socket address: IPv4 for mapped addresses.
sockaddr_storage address_from_abi(const cgs_addr& addr, uint16_t host_port) {
  sockaddr_storage ss{};
  if (addr.a[0] == 0 && addr.a[1] == 0 && addr.a[2] == htonl(0xffff)) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_addr.s_addr = addr.a[3];
    s->sin_port = htons(host_port);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    std::memcpy(&s->sin6_addr, addr.a, 16);
    s->sin6_port = htons(host_port);
  }
  return ss;
}

std::string pin_dir_for(uint64_t cgroup_id) { return fmt::format("/sys/fs/bpf/cgscope/proxy-{}", cgroup_id); }

struct ProxyHooks::Impl {
  proxy_bpf* skel = nullptr;
  std::string dir;
  std::optional<DirLock> lock;
  bool took_over = false;
  bool dns = false;
  ~Impl() {
    if (skel) proxy_bpf__destroy(skel);
  }
};

ProxyHooks::ProxyHooks(ProxyHooks&&) noexcept = default;
ProxyHooks& ProxyHooks::operator=(ProxyHooks&&) noexcept = default;
ProxyHooks::~ProxyHooks() = default;

const std::string& ProxyHooks::pin_dir() const { return impl_->dir; }
bool ProxyHooks::took_over() const { return impl_->took_over; }

Result<ProxyHooks> ProxyHooks::load(const std::string& pin_dir) {
  ProxyHooks h;
  h.impl_ = std::make_unique<Impl>();
  h.impl_->dir = pin_dir;
  if (auto r = make_pin_dir(pin_dir); !r) return fail_with(r.error());
  auto lock = DirLock::try_lock(pin_dir);
  if (!lock) return fail_with(lock.error());
  if (!*lock)
    return fail(fmt::format("another cgscope proxy runs on this cgroup (its pins are in {}); stop it first", pin_dir),
                EBUSY);
  h.impl_->lock.emplace(std::move(**lock));
  std::error_code ec;
  h.impl_->took_over = !std::filesystem::is_empty(pin_dir, ec);
  h.impl_->skel = proxy_bpf__open();
  if (!h.impl_->skel) return fail_errno("opening the proxy BPF object", errno);
  if (auto r = pin_maps_in(h.impl_->skel->obj, pin_dir); !r) return fail_with(r.error());
  if (proxy_bpf__load(h.impl_->skel) != 0)
    return fail_errno(fmt::format("loading the proxy programs (maps pinned in {}; `cgscope proxy reset` removes a "
                                  "proxy's leftovers)",
                                  pin_dir),
                      errno);
  return h;
}

namespace {

// Pins taken over from a killed proxy keep its state: this run starts from its
// own bypass list and with every DNS slot free.
Result<void> clear_run_state(proxy_bpf* skel) {
  int bypass = bpf_map__fd(skel->maps.proxy_bypass);
  cgs_proxy_prefix key{}, next{};
  while (bpf_map_get_next_key(bypass, nullptr, &next) == 0) {
    key = next;
    if (bpf_map_delete_elem(bypass, &key) != 0) return fail_errno("clearing the old bypass prefixes", errno);
  }
  int slots = bpf_map__fd(skel->maps.proxy_dns_slots);
  for (uint32_t i = 0; i < CGS_PROXY_DNS_SLOTS; i++) {
    cgs_proxy_dns_slot free_slot{};
    if (bpf_map_update_elem(slots, &i, &free_slot, BPF_ANY) != 0) return fail_errno("clearing the DNS slots", errno);
  }
  return {};
}

}  // namespace

Result<void> ProxyHooks::configure(const HookConfig& cfg) {
  if (auto r = clear_run_state(impl_->skel); !r) return r;
  int bypass = bpf_map__fd(impl_->skel->maps.proxy_bypass);
  for (const cgs_proxy_prefix& p : cfg.bypass) {
    uint32_t one = 1;
    if (bpf_map_update_elem(bypass, &p, &one, BPF_ANY) != 0) return fail_errno("writing a bypass prefix", errno);
  }
  cgs_proxy_config c{};
  to_abi(cfg.relay4, c.relay4, c.relay4_port);
  if (cfg.relay4_ns) to_abi(*cfg.relay4_ns, c.relay4_ns, c.relay4_ns_port);
  if (cfg.relay6) to_abi(*cfg.relay6, c.relay6, c.relay6_port);
  if (cfg.upstream) to_abi(*cfg.upstream, c.upstream, c.upstream_port);
  auto netns = current_netns_cookie();
  if (!netns) return fail_with(netns.error());
  c.host_netns = *netns;
  if (cfg.dns_ports.size() > CGS_PROXY_DNS_SLOTS || cfg.dns_ns_ports.size() > CGS_PROXY_DNS_SLOTS)
    return fail("more DNS forwarder ports than slots", EINVAL);
  for (size_t i = 0; i < cfg.dns_ports.size(); i++) c.dns_port[i] = htons(cfg.dns_ports[i]);
  for (size_t i = 0; i < cfg.dns_ns_ports.size(); i++) c.dns_ns_port[i] = htons(cfg.dns_ns_ports[i]);
  c.dns_on = !cfg.dns_ports.empty();
  c.no_relay = cfg.no_relay;
  impl_->dns = c.dns_on;
  c.on = 1;
  uint32_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.proxy_config), &zero, &c, BPF_ANY) != 0)
    return fail_errno("writing the proxy configuration", errno);
  return {};
}

Result<void> ProxyHooks::attach(const std::string& cgroup_path, std::vector<std::string>* notes) {
  auto* p = &impl_->skel->progs;
  const PinnedHook hooks[] = {{kLinkNames[0], p->proxy_connect4},     {kLinkNames[1], p->proxy_connect6},
                              {kLinkNames[2], p->proxy_getpeername4}, {kLinkNames[3], p->proxy_getpeername6},
                              {kLinkNames[4], p->proxy_sockops},      {kLinkNames[5], p->proxy_sendmsg4},
                              {kLinkNames[6], p->proxy_sendmsg6},     {kLinkNames[7], p->proxy_recvmsg4},
                              {kLinkNames[8], p->proxy_recvmsg6},
                              {kLinkNames[9], p->proxy_dns_egress}};
  static_assert(std::size(hooks) == std::size(kLinkNames));
  // Without DNS, UDP keeps its fast path: no program on sendmsg/recvmsg.
  std::span<const PinnedHook> used(hooks, impl_->dns ? std::size(hooks) : kTcpLinks);
  return attach_pinned_hooks(impl_->dir, cgroup_path, used,
                             fmt::format("cgscope proxy reset --pin-dir {}", impl_->dir), notes);
}

std::optional<Original> ProxyHooks::take(const sockaddr_storage& peer) const {
  cgs_conn_key k{};
  __u16 port = 0;
  to_abi(peer, k.addr, port);
  k.port = ntohs(port);
  cgs_proxy_conn v{};
  int fd = bpf_map__fd(impl_->skel->maps.proxy_conns);
  if (bpf_map_lookup_and_delete_elem(fd, &k, &v) != 0) {
    // Older kernels cannot lookup-and-delete a hash: two steps then.
    if (bpf_map_lookup_elem(fd, &k, &v) != 0) return std::nullopt;
    bpf_map_delete_elem(fd, &k);
  }
  Original o;
  o.dst.addr = address_from_abi(v.dst.addr, uint16_t(v.dst.port));
  o.dst.len = address_length(o.dst.addr);
  o.meta.cgroup_id = v.who.cgroup_id;
  o.meta.pid = v.who.pid;
  o.meta.comm.assign(v.who.comm, strnlen(v.who.comm, sizeof(v.who.comm)));
  return o;
}

Result<void> ProxyHooks::exempt(int sock_fd) const {
  auto sc = socket_cookie(sock_fd);
  if (!sc) return fail_with(sc.error());
  uint64_t cookie = *sc;
  cgs_proxy_exempt_value v{1, 0};
  if (bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.proxy_exempt), &cookie, &v, BPF_ANY) != 0)
    return fail_errno("exempting a relay socket", errno);
  return {};
}

std::optional<sockaddr_storage> ProxyHooks::dns_server(unsigned slot) const {
  cgs_proxy_dns_slot v{};
  if (slot >= CGS_PROXY_DNS_SLOTS ||
      bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.proxy_dns_slots), &slot, &v) != 0 || v.server == 0)
    return std::nullopt;
  sockaddr_storage ss{};
  auto* s = reinterpret_cast<sockaddr_in*>(&ss);
  s->sin_family = AF_INET;
  s->sin_addr.s_addr = uint32_t(v.server >> 16);
  s->sin_port = uint16_t(v.server);
  return ss;
}

std::optional<uint64_t> ProxyHooks::dns_client(const sockaddr_storage& at, const sockaddr_storage& from) const {
  if (at.ss_family != AF_INET || from.ss_family != AF_INET) return std::nullopt;
  const auto* a = reinterpret_cast<const sockaddr_in*>(&at);
  const auto* f = reinterpret_cast<const sockaddr_in*>(&from);
  cgs_proxy_dns_client_key k{f->sin_addr.s_addr, a->sin_addr.s_addr, f->sin_port, a->sin_port};
  cgs_proxy_dns_client v{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.proxy_dns_clients), &k, &v) != 0) return std::nullopt;
  // bpf_ktime_get_ns() is CLOCK_MONOTONIC. An old record is a socket that may
  // have closed, its address:port now someone else's: not taken.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t now_ns = uint64_t(now.tv_sec) * 1000000000ULL + uint64_t(now.tv_nsec);
  if (now_ns < v.seen_ns || now_ns - v.seen_ns > CGS_PROXY_DNS_FRESH_NS) return std::nullopt;
  return v.cgroup_id;
}

int ProxyHooks::flows_fd() const { return bpf_map__fd(impl_->skel->maps.proxy_flows); }
int ProxyHooks::open_fd() const { return bpf_map__fd(impl_->skel->maps.proxy_open); }

std::array<uint64_t, CGS_PROXY_STAT_NR> ProxyHooks::stats() const {
  std::array<uint64_t, CGS_PROXY_STAT_NR> total{};
  int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(ncpu > 0 ? ncpu : 1);
  for (uint32_t i = 0; i < CGS_PROXY_STAT_NR; i++) {
    if (bpf_map__lookup_elem(impl_->skel->maps.proxy_stats, &i, sizeof(i), per_cpu.data(),
                             per_cpu.size() * sizeof(uint64_t), 0) != 0)
      continue;
    for (uint64_t v : per_cpu) total[i] += v;
  }
  return total;
}

bool proxy_pins_in_use(const std::string& pin_dir) {
  auto lock = DirLock::try_lock(pin_dir);
  return lock && !*lock;
}

std::vector<std::string> remove_orphan_proxy_pins(const std::string& cgroup_mount) {
  std::vector<std::string> removed;
  const std::vector<std::string> links(std::begin(kLinkNames), std::end(kLinkNames));
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/fs/bpf/cgscope", ec)) {
    std::string dir = e.path().string();
    if (e.path().filename().string().rfind("proxy-", 0) != 0) continue;
    auto lock = DirLock::try_lock(dir);
    if (!lock || !*lock) continue;  // a proxy runs there
    // The kernel detaches a link when its cgroup is released, a moment after
    // rmdir; until then the link names the id of a cgroup the kernel no longer
    // finds. Either says the cgroup is gone; anything unsure keeps the pins.
    bool present = false, attached = false;
    for (const PinnedLinkInfo& l : read_pinned_links(dir, links)) {
      present |= l.present;
      if (!l.present || l.cgroup_id == 0) continue;
      auto exists = cgroup_id_exists(cgroup_mount, l.cgroup_id);
      attached |= !exists || *exists;
    }
    // No link: a proxy that is just starting there. Attached: a cgroup that
    // exists, fail closed, for `proxy reset`.
    if (!present || attached) continue;
    if (remove_proxy_pins(dir)) removed.push_back(dir);
  }
  return removed;
}

Result<std::vector<std::string>> remove_proxy_pins(const std::string& pin_dir) {
  std::vector<std::string> removed;
  std::vector<std::string> links(std::begin(kLinkNames), std::end(kLinkNames));
  // Links first: the hooks stop before the maps they read go away.
  if (auto r = detach_pinned_links(pin_dir, links, removed); !r) return fail_with(r.error());
  for (const char* name : kMapNames) {
    std::string p = join(pin_dir, name);
    if (::unlink(p.c_str()) == 0) removed.push_back(name);
    else if (errno != ENOENT) return fail_errno(fmt::format("removing {}", p), errno);
  }
  if (::rmdir(pin_dir.c_str()) != 0 && errno != ENOENT)
    return fail_errno(fmt::format("removing {} (something else is pinned there?)", pin_dir), errno);
  ::rmdir("/sys/fs/bpf/cgscope");  // shared with the other jobs: only if empty
  return removed;
}

}  // namespace cgscope::proxy
