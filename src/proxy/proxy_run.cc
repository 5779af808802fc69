#include "proxy/proxy_run.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/command_run.h"
#include "core/features.h"
#include "core/hook_order.h"
#include "core/host_mounts.h"
#include "core/small_file.h"
#include "core/stop_signal.h"
#include "proxy/bypass.h"
#include "proxy/dns_forwarder.h"
#include "proxy/flow_watch.h"
#include "proxy/hooks.h"
#include "proxy/log_sink.h"
#include "proxy/name_cache.h"
#include "proxy/ns_relay.h"
#include "proxy/relay.h"
#include "proxy/self_exempt.h"
#include "proxy/upstream.h"

namespace cgscope::proxy {
namespace {

// What the request says, checked before anything is touched.
struct Plan {
  Upstream upstream;
  std::vector<cgs_proxy_prefix> bypass;
  std::optional<sockaddr_storage> relay_given;  // --relay-addr (port 0)
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds idle_timeout{0};  // 0: none
  bool no_relay = false;                      // --no-relay: the kernel watches, no relay
};

// The CLI checked the range; a fraction of a millisecond rounds up, so a
// timeout given is never none.
std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(int64_t(std::ceil(s * 1000.0)));
}

sockaddr_storage loopback4() {
  sockaddr_storage ss{};
  auto* s = reinterpret_cast<sockaddr_in*>(&ss);
  s->sin_family = AF_INET;
  s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ss;
}

Result<Plan> make_plan(const ProxyRequest& req) {
  Plan p;
  auto up = parse_upstream(req.via);
  if (!up) return fail_with(up.error());
  p.upstream = std::move(*up);
  for (const std::string& b : req.bypass) {
    auto c = parse_cidr(b);
    if (!c) return fail_with(c.error());
    p.bypass.push_back(*c);
  }
  if (req.relay_addr) {
    auto d = make_destination(*req.relay_addr, 0);
    if (!d || d->addr.ss_family != AF_INET)
      return fail(fmt::format("--relay-addr '{}' is not an IPv4 address of this host", *req.relay_addr), EINVAL);
    p.relay_given = d->addr;
  }
  p.no_relay = req.no_relay;
  if (p.no_relay && p.upstream.kind != Upstream::Kind::direct)
    return fail(fmt::format("--no-relay goes with --via direct only: a {} upstream is reached through the relay",
                            describe(p.upstream)),
                EINVAL);
  if (p.no_relay && req.idle_timeout > 0)
    return fail("--idle-timeout needs the relay (it closes what it forwards): not with --no-relay", EINVAL);
  p.connect_timeout = seconds_to_ms(req.connect_timeout);
  p.idle_timeout = seconds_to_ms(req.idle_timeout);
  return p;
}

// The pins of this run, removed with the object: the hooks stop first.
struct PinsOwner {
  std::string dir;
  ~PinsOwner() {
    if (dir.empty()) return;
    if (auto r = remove_proxy_pins(dir); !r) std::fprintf(stderr, "cgscope proxy: %s\n", r.error().message.c_str());
  }
};

int fail_line(const Error& e, int code = 2) {
  std::fprintf(stderr, "cgscope proxy: %s\n", e.message.c_str());
  return code;
}

// The cgroup to proxy: CMD's fresh one (run), or the one given (attach).
Result<std::string> target_cgroup(const ProxyRequest& req, const std::string& mount,
                                  std::optional<CommandRun>& command) {
  if (!req.command.empty()) {
    auto run = CommandRun::make_cgroup(mount);
    if (!run) return fail_with(run.error());
    command.emplace(std::move(*run));
    return command->cgroup().path();
  }
  std::string rel = relative_cgroup_path(mount, req.cgroup);
  std::string abs = rel == "/" ? mount : mount + rel;
  if (auto id = cgroup_id(abs); !id)
    return fail(fmt::format("--cgroup {}: {} (give a cgroup v2 path, e.g. /system.slice/x or the parent given to "
                            "docker build --cgroup-parent)",
                            req.cgroup, id.error().message),
                id.error().code);
  return abs;
}

// Where the relay listens: loopback for the host's namespace, and an address
// other namespaces reach (--relay-addr serves both; else one is picked).
struct RelayAddrs {
  sockaddr_storage host;
  std::optional<sockaddr_storage> ns;
};

RelayAddrs relay_addresses(const Plan& plan, const std::string& cgroup, bool attach) {
  if (plan.relay_given) return {*plan.relay_given, std::nullopt};
  auto pick = pick_ns_relay(cgroup);
  if (pick && *pick) {
    std::fprintf(stderr, "cgscope: other network namespaces reach the relay at %s (%s; --relay-addr to choose)\n",
                 format_ip((*pick)->addr).c_str(), (*pick)->why.c_str());
    return {loopback4(), (*pick)->addr};
  }
  if (attach)
    std::fprintf(stderr, "cgscope: no host address for other network namespaces to reach the relay by; their "
                         "connects are refused (--relay-addr ADDR gives one)\n");
  return {loopback4(), std::nullopt};
}

// The services of a run, each on a thread of its own until stop.
struct Services {
  std::optional<ProxyHooks> hooks;
  std::optional<Relay> relay;            // none with --no-relay
  std::optional<FlowWatch> flows;       // --no-relay only
  std::unique_ptr<DnsForwarder> dns;
  NameCache names;
  std::atomic<bool> stop{false};
  std::atomic<bool> exempt_all{true};  // each relay socket exempted (self_exempt.h)
  Result<void> relay_result;
  uint64_t open_at_stop = 0;  // --no-relay: logged by the stop, still open then
  std::thread relay_thread, dns_thread;

  void start() {
    if (relay) relay_thread = std::thread([this] { relay_result = relay->run(stop); });
    if (flows) relay_thread = std::thread([this] { relay_result = flows->run(stop); });
    if (dns) dns_thread = std::thread([this] { (void)dns->run(stop); });
  }
  void join() {
    stop = true;
    if (relay_thread.joinable()) relay_thread.join();
    if (dns_thread.joinable()) dns_thread.join();
  }
  ~Services() { join(); }
};

// The original destination of an accepted connection, with the name a lookup
// through the forwarder gave it when the upstream takes names: a lookup of the
// same client's (its cgroup), not another's (name_cache.h).
std::optional<Original> lookup_original(Services& s, const Upstream& up, const sockaddr_storage& peer) {
  auto o = s.hooks->take(peer);
  if (o && (up.kind == Upstream::Kind::socks5h || up.kind == Upstream::Kind::http))
    if (auto name = s.names.name_of(o->meta.cgroup_id, format_ip(o->dst.addr))) o->dst.host = *name;
  return o;
}

Result<void> make_relay(Services& s, const Plan& plan, const RelayAddrs& at, const LogSink& log,
                        const SelfExempt& self) {
  RelayOptions ro;
  ro.listen = {at.host};
  ro.connect_timeout = plan.connect_timeout;
  // The TCP connect to the upstream itself keeps its 1 s (relay.h) unless the
  // whole connect is given less.
  ro.upstream_connect_timeout = std::min(ro.upstream_connect_timeout, ro.connect_timeout);
  ro.idle_timeout = plan.idle_timeout;
  if (at.ns) ro.listen.push_back(*at.ns);
  ro.upstream = plan.upstream;
  ro.lookup = [&s, &plan](const sockaddr_storage& peer, const sockaddr_storage&) {
    return lookup_original(s, plan.upstream, peer);
  };
  ro.on_close = [&log](const AccessRecord& r) { log.write(r); };
  // Only where the hooks can see the relay's sockets (self_exempt.h), or once
  // the relay has seen one of its own connects come back. A failed exempt is
  // safe: the relay refuses a connection back to itself.
  s.exempt_all = self.needed;
  ro.own_pid = self.own_pid;
  ro.on_loop = [&s] { s.exempt_all = true; };
  ro.on_upstream_socket = [&s](int fd) {
    if (s.exempt_all.load(std::memory_order_relaxed)) (void)s.hooks->exempt(fd);
  };
  // As many connections as the hard fd limit holds (two fds each), so that the
  // relay has nothing to warn about unless that is small.
  if (rlimit nofile{}; ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max != RLIM_INFINITY)
    ro.max_connections = std::clamp<size_t>((nofile.rlim_max - 64) / 2, 1024, ro.max_connections);
  auto relay = Relay::create(std::move(ro));
  if (!relay) return fail_with(relay.error());
  s.relay.emplace(std::move(*relay));
  return {};
}

Result<void> make_dns(Services& s, const Plan& plan, const RelayAddrs& at, const LogSink& log) {
  DnsForwarderOptions o;
  o.listen = {at.host};
  if (at.ns) o.listen.push_back(*at.ns);
  o.slots = CGS_PROXY_DNS_SLOTS;
  o.upstream = plan.upstream;
  o.server_of = [&s](unsigned slot) { return s.hooks->dns_server(slot); };
  o.admit = [&s](const sockaddr_storage& at, const sockaddr_storage& from) { return s.hooks->dns_client(at, from); };
  o.on_upstream_socket = [&s](int fd) { (void)s.hooks->exempt(fd); };
  o.on_query = [&log, up = describe(plan.upstream)](const DnsRecord& r) { log.write(r, up); };
  o.names = &s.names;
  auto f = DnsForwarder::create(std::move(o));
  if (!f) return fail_with(f.error());
  s.dns = std::move(*f);
  return {};
}

// --dns leaves loopback nameservers alone (a local stub is the host's); say so
// when the host's resolv.conf names one, since then lookups do not go through
// the upstream unless the stub itself runs in the cgroup.
void warn_local_resolver() {
  auto conf = read_small_file("/etc/resolv.conf");
  if (!conf) return;
  std::istringstream in(*conf);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string key, addr;
    if (f >> key >> addr && key == "nameserver" && (addr.rfind("127.", 0) == 0 || addr == "::1")) {
      std::fprintf(stderr, "cgscope: warning: /etc/resolv.conf names the local resolver %s; queries to it stay on "
                           "this host (only nameservers elsewhere are reached through the upstream)\n",
                   addr.c_str());
      return;
    }
  }
}

// The hooks' configuration from what listens where.
HookConfig hook_config(const Services& s, const Plan& plan, const RelayAddrs& at) {
  HookConfig hc;
  hc.no_relay = plan.no_relay;
  if (s.relay) {
    auto bound = s.relay->bound();
    hc.relay4 = bound.at(0);
    hc.relay4_ns = at.ns ? bound.at(1) : plan.relay_given ? std::optional(bound.at(0)) : std::nullopt;
  }
  if (plan.upstream.len) hc.upstream = plan.upstream.addr;
  hc.bypass = plan.bypass;
  if (s.dns) {
    hc.dns_ports = s.dns->ports(0);
    hc.dns_ns_ports = at.ns ? s.dns->ports(1) : plan.relay_given ? hc.dns_ports : std::vector<uint16_t>{};
  }
  return hc;
}

void print_totals(const Services& s) {
  auto ks = s.hooks->stats();
  if (s.relay) {
    auto st = s.relay->stats();
    std::fprintf(stderr, "cgscope proxy: %llu connections proxied, %llu failed, %llu not redirected; kernel: %llu "
                         "redirected, %llu direct, %llu refused",
                 (unsigned long long)st.forwarded, (unsigned long long)st.failed, (unsigned long long)st.refused,
                 (unsigned long long)ks[CGS_PROXY_STAT_REDIRECTED], (unsigned long long)ks[CGS_PROXY_STAT_BYPASSED],
                 (unsigned long long)ks[CGS_PROXY_STAT_REFUSED]);
  } else {
    std::fprintf(stderr, "cgscope proxy: %llu connections logged (%llu open at stop); kernel: %llu watched, %llu not "
                         "logged (the ring was full), %llu bypassed, %llu refused",
                 (unsigned long long)s.flows->logged(), (unsigned long long)s.open_at_stop,
                 (unsigned long long)ks[CGS_PROXY_STAT_WATCHED], (unsigned long long)ks[CGS_PROXY_STAT_FLOWS_LOST],
                 (unsigned long long)ks[CGS_PROXY_STAT_BYPASSED], (unsigned long long)ks[CGS_PROXY_STAT_REFUSED]);
    if (ks[CGS_PROXY_STAT_OPEN_UNTRACKED])
      std::fprintf(stderr, " (%llu connections were more than the %d open at once a stop can log: not logged if "
                           "still open at stop)",
                   (unsigned long long)ks[CGS_PROXY_STAT_OPEN_UNTRACKED], CGS_PROXY_MAX_OPEN);
  }
  if (ks[CGS_PROXY_STAT_NS_REFUSED])
    std::fprintf(stderr, " (%llu from other network namespaces, with no relay address for them: give --relay-addr)",
                 (unsigned long long)ks[CGS_PROXY_STAT_NS_REFUSED]);
  if (s.dns) {
    auto d = s.dns->stats();
    std::fprintf(stderr, "; dns: %llu queries, %llu answered, %llu failed, %llu dropped, %llu refused in the kernel, "
                         "%llu not from the cgroup (unanswered)",
                 (unsigned long long)d.queries, (unsigned long long)d.answered, (unsigned long long)d.failed,
                 (unsigned long long)d.dropped, (unsigned long long)ks[CGS_PROXY_STAT_DNS_REFUSED],
                 (unsigned long long)d.foreign);
  }
  std::fprintf(stderr, "\n");
}

// Waits for CMD to end (run) or for a stop signal (attach).
void wait_until_done(std::optional<CommandRun>& command) {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (int sig = take_stop_signal()) {
      if (!command) return;
      command->forward_signal(sig);
    }
    if (command && command->done()) return;
  }
}

Result<void> check_host() {
  if (auto r = require_root("cgscope proxy"); !r) return r;
  if (auto r = require_btf(); !r) return r;
  if (auto r = require_kernel_features(KernelJob::proxy); !r) return r;
  return ensure_bpffs("/sys/fs/bpf", stderr_notice());
}

}  // namespace

int run_proxy(const ProxyRequest& req) {
  install_stop_signal_handlers();
  route_libbpf_logs(req.verbose);
  auto plan = make_plan(req);
  if (!plan) return fail_line(plan.error());
  auto log = LogSink::open(req.log_file, req.json);
  if (!log) return fail_line(log.error());
  if (auto r = check_host(); !r) return fail_line(r.error());
  auto mount = ensure_cgroup2(stderr_notice());
  if (!mount) return fail_line(mount.error());

  std::optional<CommandRun> command;
  auto cgroup = target_cgroup(req, *mount, command);
  if (!cgroup) return fail_line(cgroup.error());
  if (command)
    if (auto r = command->spawn(req.command); !r) return fail_line(r.error(), 127);
  auto cg_id = cgroup_id(*cgroup);
  if (!cg_id) return fail_line(cg_id.error());
  for (const std::string& dir : remove_orphan_proxy_pins(*mount))
    std::fprintf(stderr, "cgscope: removed %s, the pins of a proxy whose cgroup is gone\n", dir.c_str());

  // What listens first (its ports go into the hooks' config), then the hooks.
  // With --no-relay only the DNS forwarder listens.
  RelayAddrs at = plan->no_relay && !req.dns ? RelayAddrs{loopback4(), std::nullopt}
                                             : relay_addresses(*plan, *cgroup, !command);
  Services s;
  if (!plan->no_relay)
    if (auto r = make_relay(s, *plan, at, *log, self_exempt(*mount, *cgroup)); !r) return fail_line(r.error());
  if (req.dns) {
    if (auto r = make_dns(s, *plan, at, *log); !r) return fail_line(r.error());
    warn_local_resolver();
  }
  auto loaded = ProxyHooks::load(pin_dir_for(*cg_id));
  if (!loaded) return fail_line(loaded.error());
  s.hooks.emplace(std::move(*loaded));
  // Pins this run made go with it, whatever happens. Pins it took over from a
  // proxy that was killed stay when this run fails before its hooks are in:
  // the cgroup stays fail closed rather than open.
  PinsOwner pins{s.hooks->took_over() ? "" : s.hooks->pin_dir()};
  auto kept = [&](const Error& e) {
    if (s.hooks->took_over())
      std::fprintf(stderr, "cgscope proxy: the hooks of the proxy that was killed stay (connects refused) until "
                           "`cgscope proxy reset --pin-dir %s`\n", s.hooks->pin_dir().c_str());
    return fail_line(e);
  };
  if (plan->no_relay) {
    auto w = FlowWatch::create(s.hooks->flows_fd(), [&log](const AccessRecord& r) { log->write(r); });
    if (!w) return fail_line(w.error());
    s.flows.emplace(std::move(*w));
  }
  HookConfig hc = hook_config(s, *plan, at);
  if (auto r = s.hooks->configure(hc); !r) return kept(r.error());
  std::vector<std::string> notes;
  if (auto r = s.hooks->attach(*cgroup, &notes); !r) return kept(r.error());
  pins.dir = s.hooks->pin_dir();  // attached: this run's now, removed at its end
  if (auto problem = lb_proxy_order_problem(*cgroup)) std::fprintf(stderr, "cgscope: warning: %s\n", problem->c_str());

  s.start();
  if (command)
    if (auto r = command->start(); !r) return fail_line(r.error(), 127);
  std::fprintf(stderr, "cgscope: proxying %s via %s (%s%s)\n",
               command ? fmt::format("{} (pid {})", req.command[0], command->pid()).c_str() : cgroup->c_str(),
               describe(plan->upstream).c_str(),
               s.relay ? ("relay " + format_address(hc.relay4)).c_str() : "no relay: each connection logged at its close, or at the stop",
               s.dns ? ", DNS through the upstream" : "");
  std::fflush(stderr);
  wait_until_done(command);
  // The hooks go before the relay: no connect is sent to a relay that is gone.
  { PinsOwner done{std::exchange(pins.dir, "")}; }
  s.join();
  // The connections still open are logged even when reading the ring failed:
  // the map is apart from it. The first error is the one reported.
  if (s.flows) {
    auto open = s.flows->log_open(s.hooks->open_fd());
    if (open) s.open_at_stop = *open;
    else if (s.relay_result) s.relay_result = fail_with(open.error());
  }
  print_totals(s);
  if (!s.relay_result) return fail_line(s.relay_result.error(), 1);
  return command ? command->finish() : 0;
}

int reset_proxy(const std::string& cgroup, const std::string& pin_dir) {
  if (auto r = require_root("cgscope proxy reset"); !r) return fail_line(r.error());
  std::string dir = pin_dir;
  if (dir.empty()) {
    if (cgroup.empty()) return fail_line(Error{"reset: give --cgroup PATH or --pin-dir DIR", EINVAL});
    auto mount = cgroup2_mount();
    if (!mount) return fail_line(mount.error());
    std::string rel = relative_cgroup_path(*mount, cgroup);
    auto id = cgroup_id(rel == "/" ? *mount : *mount + rel);
    if (!id) return fail_line(id.error());
    dir = pin_dir_for(*id);
  }
  if (proxy_pins_in_use(dir))
    return fail_line(Error{fmt::format("a running cgscope proxy owns {}: stop it (SIGINT/SIGTERM) and it removes "
                                       "its hooks itself",
                                       dir),
                           EBUSY});
  auto removed = remove_proxy_pins(dir);
  if (!removed) return fail_line(removed.error(), 1);
  if (removed->empty()) std::printf("proxy: nothing to reset in %s\n", dir.c_str());
  else std::printf("proxy: detached the hooks and removed %zu pins from %s\n", removed->size(), dir.c_str());
  return 0;
}

}  // namespace cgscope::proxy
