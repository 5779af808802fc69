// `cgscope lb apply`: the file is checked whole first; then, holding the pin
// dir's lock, the state is read back, the change planned within the maps'
// capacity (schedule.h) and written in an order under which no connect sees
// half of it, and the hooks attached on first use. A failure before the first
// write changes nothing; a first apply that fails removes what it made, and
// only that.
#include <bpf/bpf.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/features.h"
#include "core/hook_order.h"
#include "core/host_mounts.h"
#include "lb/control.h"
#include "lb/maps.h"
#include "lb/schedule.h"
#include "proxy/proxied_cgroups.h"

namespace cgscope::lb {

namespace {

int failed(std::ostream& err, const Error& e) {
  err << "cgscope lb apply: " << e.message << "\n";
  return 1;
}

// Everything about the input that can be wrong, found before any state is touched.
struct Input {
  Config cfg;
  std::set<uint64_t> netns;  // cookies of the namespaces to enrol
  std::string cgroup;
  uint64_t cg_id = 0;
};

Result<Input> read_input(const ApplyOptions& o, const MountNotice& notice) {
  Input in;
  auto cfg = load_config(o.file, ConfigFileOptions{o.max_file_bytes});
  if (!cfg) return fail_with(cfg.error());
  in.cfg = std::move(*cfg);
  if (o.adjust) o.adjust(in.cfg);
  for (const NetnsEntry& n : in.cfg.netns) {
    auto c = netns_cookie(n.path);
    if (!c) return fail(fmt::format("{}:{}: netns: {}", o.file, n.line, c.error().message), c.error().code);
    in.netns.insert(*c);
  }
  in.cgroup = o.cgroup;
  if (in.cgroup.empty()) {
    auto root = ensure_cgroup2(notice);
    if (!root) return fail_with(root.error());
    in.cgroup = *root;
  }
  auto id = cgroup_id(in.cgroup);
  if (!id) return fail(fmt::format("{} (--cgroup takes a cgroup v2 directory)", id.error().message), id.error().code);
  in.cg_id = *id;
  return in;
}

// The pinned links are attached to this cgroup, or there are none yet.
Result<void> check_links(const std::string& dir, const Input& in) {
  for (const LinkInfo& l : read_links(dir)) {
    if (!l.present) continue;
    if (l.cgroup_id == 0)
      return fail(fmt::format("lb in {} is attached to a cgroup that has been deleted ({} is linked to none), so "
                              "nothing is balanced, and apply does not move it; run `cgscope lb reset --pin-dir "
                              "{}`, then apply again. Nothing was changed",
                              dir, l.name, dir),
                  ENOLINK);
    if (l.cgroup_id != in.cg_id)
      return fail(fmt::format("lb in {} is attached to another cgroup (id {}), not {}; run `cgscope lb reset` "
                              "first to move it. Nothing was changed",
                              dir, l.cgroup_id, in.cgroup),
                  EEXIST);
  }
  return {};
}

Result<void> prepare_host(const std::string& dir, const MountNotice& notice) {
  if (auto r = require_root("lb apply"); !r) return r;
  if (auto r = require_kernel_features(KernelJob::lb); !r) return r;
  if (dir.rfind("/sys/fs/bpf/", 0) == 0)
    if (auto r = ensure_bpffs("/sys/fs/bpf", notice); !r) return r;
  return require_bpffs(dir);
}

// The config is consumed: at 100,000 services its memory is better spent on the plan.
Result<Plan> plan_from(const MapState& cur, Config&& cfg) {
  auto want = desired_state(cfg, cur);
  cfg = {};
  malloc_trim(0);  // its pages back before the plan takes its own (see plan_within)
  if (!want) return fail_with(want.error());
  return plan_within(cur, std::move(*want));
}

// The netns filter. With namespaces to enrol: stale entries out, new ones in,
// then the flag on (entries are in before the flag makes the hooks look). With
// none: the flag off first, then every entry out. Either way the map never
// holds more than the old or the new set.
Result<void> apply_netns(const PinnedMaps& maps, const std::set<uint64_t>& want) {
  std::set<uint64_t> have;
  uint64_t key = 0, next = 0;
  for (bool first = true; bpf_map_get_next_key(maps.netns_fd(), first ? nullptr : &key, &next) == 0; first = false) {
    have.insert(next);
    key = next;
  }
  uint32_t zero = 0, one = 1;
  cgs_lb_config cfg{};
  bpf_map_lookup_elem(maps.config_fd(), &zero, &cfg);
  const uint32_t on = want.empty() ? 0u : 1u;
  auto set_flag = [&]() -> Result<void> {
    if (cfg.netns_filter_on == on) return {};
    cfg.netns_filter_on = on;  // the rest (exempt_on) as it was
    if (bpf_map_update_elem(maps.config_fd(), &zero, &cfg, BPF_ANY) != 0) return fail_errno("updating lb_config", errno);
    return {};
  };
  if (!on)
    if (auto r = set_flag(); !r) return r;
  for (uint64_t c : have)
    if (!want.count(c) && bpf_map_delete_elem(maps.netns_fd(), &c) != 0 && errno != ENOENT)
      return fail_errno("deleting from lb_netns", errno);
  for (uint64_t c : want)
    if (!have.count(c) && bpf_map_update_elem(maps.netns_fd(), &c, &one, BPF_ANY) != 0)
      return fail_errno("updating lb_netns", errno);
  return set_flag();
}

void print_summary(std::ostream& out, const Plan& p) {
  const PlanSummary& s = p.summary;
  if (p.ops.empty()) {
    out << "no change: the maps already hold this configuration\n";
    return;
  }
  out << fmt::format(
      "services: {} added, {} changed, {} removed; endpoints: {} written, {} removed; backends: {} written, {} "
      "removed; addresses: {} written, {} removed{} ({} map writes{})\n",
      s.services_added, s.services_changed, s.services_removed, s.endpoints_written, s.endpoints_removed,
      s.backends_written, s.backends_removed, s.frontends_written, s.frontends_removed,
      s.counters_removed ? fmt::format("; stale counters: {} removed", s.counters_removed) : "", p.ops.size(),
      p.reordered ? ", removals first: the maps cannot hold the old and the new entries at once" : "");
}

auto waiting_note(std::ostream& err) {
  return [&err](const std::string& line) { err << "cgscope lb apply: " << line << "\n"; };
}

int dry_run(const ApplyOptions& o, const std::string& dir, Input in, std::ostream& out, std::ostream& err) {
  // Shared: a change in progress is waited for, never read halfway.
  auto lock = PinDirLock::acquire(dir, {PinDirLock::Mode::shared, false, o.lock_timeout, waiting_note(err)});
  if (!lock && lock.error().code == ETIMEDOUT) return failed(err, lock.error());
  if (auto r = check_links(dir, in); !r) return failed(err, r.error());
  MapState cur;
  if (auto maps = PinnedMaps::open(dir)) {
    auto st = maps->read_state();
    if (!st) return failed(err, st.error());
    cur = std::move(*st);
  }
  auto p = plan_from(cur, std::move(in.cfg));
  if (!p) return failed(err, p.error());
  out << o.file << " is valid; would do: ";
  print_summary(out, *p);
  return 0;
}

// What a failed apply takes back: the pins it made (a first apply), or the
// directory it made. Never what was there before it took the lock.
class Undo {
 public:
  Undo(std::string dir, bool made_dir) : dir_(std::move(dir)), made_dir_(made_dir) {}
  Undo(const Undo&) = delete;
  Undo& operator=(const Undo&) = delete;
  ~Undo() {
    if (!armed_) return;
    if (made_pins_) (void)remove_pins(dir_);
    else if (made_dir_) ::rmdir(dir_.c_str());
  }
  void made_pins(bool v) { made_pins_ = v; }
  void dismiss() { armed_ = false; }

 private:
  std::string dir_;
  bool made_dir_, made_pins_ = false, armed_ = true;
};

int write(const ApplyOptions& o, const std::string& dir, Input in, std::ostream& out, std::ostream& err) {
  auto lock = PinDirLock::acquire(dir, {PinDirLock::Mode::exclusive, true, o.lock_timeout, waiting_note(err)});
  if (!lock) return failed(err, lock.error());
  // From here to the last write this is the only writer of `dir`.
  Undo undo(dir, lock->made_dir());
  if (auto r = check_links(dir, in); !r) return failed(err, r.error());
  auto loader = Loader::load(dir, std::ranges::any_of(in.cfg.services, [](const auto& s) { return s.affinity; }));
  if (!loader) return failed(err, loader.error());
  undo.made_pins(loader->created_pins());
  auto maps = PinnedMaps::open(dir);
  if (!maps) return failed(err, maps.error());
  auto cur = maps->read_state();
  if (!cur) return failed(err, Error{"reading the current state: " + cur.error().message});
  auto p = plan_from(*cur, std::move(in.cfg));
  if (!p) return failed(err, p.error());
  cur = MapState{};
  if (auto r = apply_netns(*maps, in.netns); !r) return failed(err, r.error());
  if (auto r = maps->execute(p->ops); !r)
    return failed(err, Error{r.error().message + "\n  the maps hold a consistent mix of the old and new "
                                                 "configuration; fix the cause and apply again"});
  std::vector<std::string> notes;
  if (auto r = loader->attach(in.cgroup, &notes); !r) return failed(err, r.error());
  undo.dismiss();
  for (const std::string& n : notes) out << n << "\n";
  if (auto problem = lb_proxy_order_problem(in.cgroup)) err << "cgscope lb apply: warning: " << *problem << "\n";
  // A proxy below: its hook runs first whatever the order of attach.
  if (auto mount = cgroup2_mount())
    for (const std::string& w : proxy::lb_above_proxy_warnings(*mount, in.cgroup))
      err << "cgscope lb apply: warning: " << w << "\n";
  print_summary(out, *p);
  return 0;
}

}  // namespace

int run_apply(const ApplyOptions& o, std::ostream& out, std::ostream& err) {
  auto t0 = std::chrono::steady_clock::now();
  const std::string dir = pin_dir_or_default(o.pin_dir);
  MountNotice notice = [&](const std::string& line) { err << "cgscope: " << line << "\n"; };
  auto in = read_input(o, notice);
  if (!in) return failed(err, in.error());
  if (o.dry_run) return dry_run(o, dir, std::move(*in), out, err);
  if (auto r = prepare_host(dir, notice); !r) return failed(err, r.error());
  const size_t services = in->cfg.services.size();
  int rc = write(o, dir, std::move(*in), out, err);
  if (rc == 0)
    out << fmt::format("applied {} in {:.1f} ms ({} services, pins in {})\n", o.file,
                       std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
                       services, dir);
  return rc;
}

}  // namespace cgscope::lb
