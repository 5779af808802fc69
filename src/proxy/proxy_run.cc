#include "proxy/proxy_run.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/command_run.h"
#include "core/features.h"
#include "core/host_mounts.h"
#include "core/stop_signal.h"
#include "core/unique_fd.h"
#include "proxy/access_log.h"
#include "proxy/bypass.h"
#include "proxy/hooks.h"
#include "proxy/relay.h"
#include "proxy/upstream.h"

namespace cgscope::proxy {
namespace {

// What the request says, checked before anything is touched.
struct Plan {
  Upstream upstream;
  std::vector<cgs_proxy_prefix> bypass;
  sockaddr_storage relay{};  // where the relay listens (port 0: any free one)
};

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
  std::string relay = req.relay_addr.value_or("127.0.0.1");
  auto d = make_destination(relay, 0);
  if (!d || d->addr.ss_family != AF_INET)
    return fail(fmt::format("--relay-addr '{}' is not an IPv4 address of this host", relay), EINVAL);
  p.relay = d->addr;
  return p;
}

// The access log: one line (or JSON object) per connection, to stderr or a file.
class LogSink {
 public:
  static Result<LogSink> open(const ProxyRequest& req) {
    LogSink s;
    s.json_ = req.json;
    if (!req.log_file.empty()) {
      s.fd_.reset(::open(req.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
      if (!s.fd_) return fail_errno("opening the access log " + req.log_file, errno);
    }
    return s;
  }
  void write(const AccessRecord& r) const {
    std::string line = json_ ? format_access_json(r).dump() : format_access_text(r);
    line += '\n';
    (void)!::write(fd_ ? fd_.get() : STDERR_FILENO, line.data(), line.size());
  }

 private:
  UniqueFd fd_;
  bool json_ = false;
};

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

}  // namespace

int run_proxy(const ProxyRequest& req) {
  install_stop_signal_handlers();
  route_libbpf_logs(req.verbose);
  auto plan = make_plan(req);
  if (!plan) return fail_line(plan.error());
  auto log = LogSink::open(req);
  if (!log) return fail_line(log.error());
  if (auto r = require_root("cgscope proxy"); !r) return fail_line(r.error());
  if (auto r = require_btf(); !r) return fail_line(r.error());
  if (auto r = require_kernel_features(KernelJob::proxy); !r) return fail_line(r.error());
  auto mount = ensure_cgroup2(stderr_notice());
  if (!mount) return fail_line(mount.error());
  if (auto r = ensure_bpffs("/sys/fs/bpf", stderr_notice()); !r) return fail_line(r.error());

  std::optional<CommandRun> command;
  auto cgroup = target_cgroup(req, *mount, command);
  if (!cgroup) return fail_line(cgroup.error());
  if (command)
    if (auto r = command->spawn(req.command); !r) return fail_line(r.error(), 127);
  auto cg_id = cgroup_id(*cgroup);
  if (!cg_id) return fail_line(cg_id.error());

  // The relay first (its port goes into the hooks' config), then the hooks.
  std::optional<ProxyHooks> hooks;
  RelayOptions ro;
  ro.listen = {plan->relay};
  ro.upstream = plan->upstream;
  ro.lookup = [&hooks](const sockaddr_storage& peer, const sockaddr_storage&) { return hooks->take(peer); };
  ro.on_close = [&log](const AccessRecord& r) { log->write(r); };
  // A failed exempt is safe: the relay refuses a connection back to itself.
  ro.on_upstream_socket = [&hooks](int fd) { (void)hooks->exempt(fd); };
  // As many connections as the hard fd limit holds (two fds each), so that the
  // relay has nothing to warn about unless that is small.
  if (rlimit nofile{}; ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max != RLIM_INFINITY)
    ro.max_connections = std::clamp<size_t>((nofile.rlim_max - 64) / 2, 1024, ro.max_connections);
  auto relay = Relay::create(std::move(ro));
  if (!relay) return fail_line(relay.error());

  PinsOwner pins{pin_dir_for(*cg_id)};
  auto loaded = ProxyHooks::load(pins.dir);
  if (!loaded) return fail_line(loaded.error());
  hooks.emplace(std::move(*loaded));
  HookConfig hc;
  hc.relay4 = relay->bound().at(0);
  if (plan->upstream.len) hc.upstream = plan->upstream.addr;
  hc.bypass = plan->bypass;
  if (auto r = hooks->configure(hc); !r) return fail_line(r.error());
  std::vector<std::string> notes;
  if (auto r = hooks->attach(*cgroup, &notes); !r) return fail_line(r.error());

  std::atomic<bool> stop{false};
  Result<void> relay_result;
  std::thread relay_thread([&] { relay_result = relay->run(stop); });
  auto join_relay = [&] {
    stop = true;
    if (relay_thread.joinable()) relay_thread.join();
  };

  if (command)
    if (auto r = command->start(); !r) {
      join_relay();
      return fail_line(r.error(), 127);
    }
  std::fprintf(stderr, "cgscope: proxying %s via %s (relay %s)\n",
               command ? fmt::format("{} (pid {})", req.command[0], command->pid()).c_str() : cgroup->c_str(),
               describe(plan->upstream).c_str(), format_address(hc.relay4).c_str());
  std::fflush(stderr);

  while (!stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (int sig = take_stop_signal()) {
      if (!command) break;
      command->forward_signal(sig);
    }
    if (command && command->done()) break;
  }
  // The hooks go before the relay: no connect is sent to a relay that is gone.
  { PinsOwner done{std::exchange(pins.dir, "")}; }
  join_relay();
  auto st = relay->stats();
  auto ks = hooks->stats();
  std::fprintf(stderr, "cgscope proxy: %llu connections proxied, %llu failed, %llu not redirected; kernel: %llu "
                       "redirected, %llu direct, %llu refused\n",
               (unsigned long long)st.forwarded, (unsigned long long)st.failed, (unsigned long long)st.refused,
               (unsigned long long)ks[CGS_PROXY_STAT_REDIRECTED], (unsigned long long)ks[CGS_PROXY_STAT_BYPASSED],
               (unsigned long long)ks[CGS_PROXY_STAT_REFUSED]);
  if (!relay_result) return fail_line(relay_result.error(), 1);
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
  auto removed = remove_proxy_pins(dir);
  if (!removed) return fail_line(removed.error(), 1);
  if (removed->empty()) std::printf("proxy: nothing to reset in %s\n", dir.c_str());
  else std::printf("proxy: detached the hooks and removed %zu pins from %s\n", removed->size(), dir.c_str());
  return 0;
}

}  // namespace cgscope::proxy
