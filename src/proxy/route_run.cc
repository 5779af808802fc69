// `cgscope proxy route`: checks, then the hook's record, the route and the rule,
// the hook; a stop signal; then all of it taken away again. `--remove` does the
// taking away for a run that was killed.
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/features.h"
#include "core/host_mounts.h"
#include "core/small_file.h"
#include "core/stop_signal.h"
#include "proxy/route.h"
#include "proxy/route_hook.h"
#include "proxy/route_plan.h"
#include "proxy/route_table.h"

namespace cgscope::proxy {
namespace {

int fail_line(const Error& e, int code = 2) {
  std::fprintf(stderr, "cgscope proxy route: %s\n", e.message.c_str());
  return code;
}

// The start time of process `pid` (field 22 of /proc/PID/stat, after the
// parenthesised comm); 0 when there is no such process.
uint64_t process_start(pid_t pid) {
  auto text = read_small_file(fmt::format("/proc/{}/stat", pid));
  if (!text) return 0;
  size_t close = text->rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text->substr(close + 1));
  std::string f;
  for (int i = 3; i <= 22 && fields >> f; i++)
    if (i == 22) return std::strtoull(f.c_str(), nullptr, 10);
  return 0;
}

// Whether the run that wrote `rec` still runs (its pid, started when it was).
bool owner_alive(const cgs_route_config& rec) {
  return rec.owner_pid != 0 && process_start(pid_t(rec.owner_pid)) == rec.owner_start;
}

struct Cgroup {
  std::string path;  // absolute
  uint64_t id = 0;
};

Result<Cgroup> resolve_cgroup(const std::string& mount, const std::string& given) {
  if (given.empty()) return fail("give the routed cgroup with --cgroup PATH", EINVAL);
  std::string rel = relative_cgroup_path(mount, given);
  Cgroup cg{rel == "/" ? mount : mount + rel};
  auto id = cgroup_id(cg.path);
  if (!id)
    return fail(fmt::format("--cgroup {}: {} (give an existing cgroup v2 path, absolute or below {})", given,
                            id.error().message, mount),
                id.error().code);
  cg.id = *id;
  return cg;
}

// A run of this cgroup, alive or killed, is refused: its pins are in the way.
Result<void> refuse_existing(const std::string& dir, const std::string& cgroup) {
  if (!route_pins_present(dir)) return {};
  auto rec = read_route_record(dir);
  if (rec && *rec && owner_alive(**rec))
    return fail(
        fmt::format("a route of {} is running already (pid {}); stop it first (SIGTERM)", cgroup, (*rec)->owner_pid),
        EBUSY);
  return fail(fmt::format("a route run of {} was killed and left its hook, rule and route ({}): `cgscope proxy route "
                          "--cgroup {} --remove` removes them",
                          cgroup, dir, cgroup),
              EEXIST);
}

cgs_route_config make_record(const RoutePlan& plan, uint32_t priority) {
  cgs_route_config rec{};
  rec.mark = plan.mark;
  rec.table = plan.table;
  rec.priority = priority;
  rec.ifindex = plan.ifindex;
  rec.family = plan.gateway.family;
  std::memcpy(rec.gateway, plan.gateway.bytes.data(), sizeof rec.gateway);
  rec.owner_pid = uint32_t(::getpid());
  rec.owner_start = process_start(::getpid());
  return rec;
}

// What the removal took away, for the line that says so.
struct Removed {
  bool hook = false;                 // the link was there
  std::vector<std::string> routing;  // "rule ...", "route ..."
  std::vector<std::string> pins;
};

// The hook first (no new socket is marked), then the rule and the route, then
// the pins with the record: a failure midway keeps the record for a later --remove.
Result<void> remove_route_state(const std::string& dir, const std::optional<cgs_route_config>& rec, Removed& out) {
  if (auto r = detach_route_hook(dir, out.pins); !r) return r;
  out.hook = !out.pins.empty();
  if (rec) {
    auto rt = rtnl::RtnlSocket::open();
    if (!rt) return fail_with(rt.error());
    if (auto r = delete_routing(*rt, *rec, out.routing); !r) return r;
  }
  return unpin_route_record(dir, out.pins);
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (const std::string& p : parts) s += (s.empty() ? "" : ", the ") + p;
  return s;
}

// Everything a run made, taken away with it: pins once loaded, the rule and the
// route once added. A refusal midway thus leaves nothing applied.
class AppliedRoute {
 public:
  explicit AppliedRoute(std::string dir) : dir_(std::move(dir)) {}
  AppliedRoute(const AppliedRoute&) = delete;
  AppliedRoute& operator=(const AppliedRoute&) = delete;
  ~AppliedRoute() {
    if (auto r = remove(); !r) fail_line(r.error(), 1);
  }
  void routing_added(const cgs_route_config& rec) { rec_ = rec; }
  // Done once: a failure is reported by the caller, not tried again.
  Result<Removed> remove() {
    Removed out;
    std::string dir = std::exchange(dir_, "");
    if (dir.empty()) return out;
    if (auto r = remove_route_state(dir, rec_, out); !r) return fail_with(r.error());
    return out;
  }

 private:
  std::string dir_;
  std::optional<cgs_route_config> rec_;
};

// A strict reverse-path filter on the gateway's device drops the replies to the
// cgroup's traffic whenever the main table routes their source elsewhere: the
// check of an incoming packet does not see the mark its socket put on the way out.
void note_rp_filter(const RoutePlan& plan) {
  if (plan.gateway.family != AF_INET || plan.dev.empty()) return;
  auto read = [](const std::string& dev) {
    auto t = read_small_file("/proc/sys/net/ipv4/conf/" + dev + "/rp_filter");
    return t ? std::atoi(t->c_str()) : 0;
  };
  if (std::max(read("all"), read(plan.dev)) != 1) return;
  std::fprintf(stderr,
               "cgscope: note: rp_filter is strict on %s: replies from addresses the main table routes elsewhere "
               "are dropped; `sysctl net.ipv4.conf.%s.rp_filter=2` makes it loose\n",
               plan.dev.c_str(), plan.dev.c_str());
}

// Until a stop signal, or until the cgroup is removed (its hook is gone then).
void wait_for_stop(const Cgroup& cg) {
  for (int tick = 0; !take_stop_signal(); tick++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    struct stat st;
    if (tick % 20 == 19 && ::stat(cg.path.c_str(), &st) != 0) {
      std::fprintf(stderr, "cgscope: %s was removed; stopping\n", cg.path.c_str());
      return;
    }
  }
}

// Checks what does not need the kernel's routing: root, BTF, the mounts, the
// cgroup, the pins of another run.
Result<Cgroup> check_host(const RouteRequest& req) {
  if (auto r = require_root("cgscope proxy route"); !r) return fail_with(r.error());
  if (auto r = require_btf(); !r) return fail_with(r.error());
  auto mount = ensure_cgroup2(stderr_notice());
  if (!mount) return fail_with(mount.error());
  if (auto r = ensure_bpffs("/sys/fs/bpf", stderr_notice()); !r) return fail_with(r.error());
  auto cg = resolve_cgroup(*mount, req.cgroup);
  if (!cg) return fail_with(cg.error());
  if (auto r = refuse_existing(route_pin_dir_for(cg->id), req.cgroup); !r) return fail_with(r.error());
  return cg;
}

}  // namespace

int run_route(const RouteRequest& req) {
  install_stop_signal_handlers();
  route_libbpf_logs(req.verbose);
  auto plan = make_route_plan(req, [](const std::string& dev) { return ::if_nametoindex(dev.c_str()); });
  if (!plan) return fail_line(plan.error());
  auto cg = check_host(req);
  if (!cg) return fail_line(cg.error());
  auto rt = rtnl::RtnlSocket::open();
  if (!rt) return fail_line(rt.error());
  auto priority = check_routing_free(*rt, plan->table, plan->mark);
  if (!priority) return fail_line(priority.error());
  cgs_route_config rec = make_record(*plan, *priority);

  std::string dir = route_pin_dir_for(cg->id);
  AppliedRoute applied(dir);
  auto hook = RouteHook::load(dir);
  if (!hook) return fail_line(hook.error());
  // The record is pinned before the routing changes: a run killed from here on
  // leaves what `--remove` needs.
  if (auto r = hook->write_record(rec); !r) return fail_line(r.error());
  if (auto r = add_routing(*rt, rec); !r) return fail_line(r.error());
  applied.routing_added(rec);
  if (auto r = hook->attach(cg->path); !r) return fail_line(r.error());

  std::fprintf(stderr,
               "cgscope: routing new sockets of %s (cgroup %llu) through table %u: rule %s, route %s; sockets that "
               "exist already keep their route\n",
               cg->path.c_str(), (unsigned long long)cg->id, rec.table, describe_rule(rec).c_str(),
               describe_route(rec).c_str());
  note_rp_filter(*plan);
  std::fflush(stderr);
  wait_for_stop(*cg);

  auto stats = hook->stats();
  auto removed = applied.remove();
  if (!removed) return fail_line(removed.error(), 1);
  uint64_t marked = stats[CGS_ROUTE_STAT_MARKED];
  std::fprintf(stderr, "cgscope proxy route: %llu socket%s marked; removed the hook, the %s\n",
               (unsigned long long)marked, marked == 1 ? "" : "s", join(removed->routing).c_str());
  return 0;
}

int remove_route(const RouteRequest& req) {
  if (auto r = require_root("cgscope proxy route --remove"); !r) return fail_line(r.error());
  std::string dir = req.pin_dir;
  if (dir.empty()) {
    auto mount = cgroup2_mount();
    if (!mount) return fail_line(mount.error());
    auto cg = resolve_cgroup(*mount, req.cgroup);
    if (!cg)
      return fail_line(
          Error{cg.error().message + "; for a cgroup that is gone, give --pin-dir (`ls /sys/fs/bpf/cgscope`)",
                cg.error().code});
    dir = route_pin_dir_for(cg->id);
  }
  if (!route_pins_present(dir)) {
    std::printf("proxy route: nothing to remove in %s\n", dir.c_str());
    return 0;
  }
  auto rec = read_route_record(dir);
  if (!rec) return fail_line(rec.error(), 1);
  if (*rec && owner_alive(**rec))
    return fail_line(Error{fmt::format("the route in {} is running (pid {}): stop it (SIGTERM) and it removes what "
                                       "it added",
                                       dir, (*rec)->owner_pid),
                           EBUSY});
  Removed out;
  if (auto r = remove_route_state(dir, *rec, out); !r) return fail_line(r.error(), 1);
  std::string routing = out.routing.empty() ? "no rule or route (none was there)" : "the " + join(out.routing);
  std::printf("proxy route: removed %s%s; %zu pins from %s%s\n", out.hook ? "the hook, " : "", routing.c_str(),
              out.pins.size(), dir.c_str(),
              *rec ? "" : " (no record was pinned, so no rule or route is known: look for `proto 197` in `ip rule`)");
  return 0;
}

}  // namespace cgscope::proxy
