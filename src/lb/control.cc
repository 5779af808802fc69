#include "lb/control.h"

#include <bpf/bpf.h>

#include <chrono>
#include <set>

#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/features.h"
#include "core/hook_order.h"
#include "core/host_mounts.h"
#include "lb/config.h"
#include "lb/maps.h"
#include "lb/planner.h"
#include "lb/status.h"

namespace cgscope::lb {

namespace {

std::string pin_dir_or_default(const std::string& d) { return d.empty() ? kDefaultPinDir : d; }

// The netns filter: entries in before the flag goes on; flag off before entries go.
Result<void> apply_netns(const PinnedMaps& maps, const std::set<uint64_t>& want) {
  std::set<uint64_t> have;
  uint64_t key = 0, next = 0;
  bool first = true;
  while (bpf_map_get_next_key(maps.netns_fd(), first ? nullptr : &key, &next) == 0) {
    have.insert(next);
    key = next;
    first = false;
  }
  uint32_t zero = 0;
  uint32_t one = 1;
  for (uint64_t c : want)
    if (!have.count(c) && bpf_map_update_elem(maps.netns_fd(), &c, &one, BPF_ANY) != 0)
      return fail_errno("updating lb_netns", errno);
  cgs_lb_config old{};
  bpf_map_lookup_elem(maps.config_fd(), &zero, &old);
  cgs_lb_config cfg = old;  // keeps exempt_on
  cfg.netns_filter_on = want.empty() ? 0u : 1u;
  if (old.netns_filter_on != cfg.netns_filter_on &&
      bpf_map_update_elem(maps.config_fd(), &zero, &cfg, BPF_ANY) != 0)
    return fail_errno("updating lb_config", errno);
  for (uint64_t c : have)
    if (!want.count(c) && bpf_map_delete_elem(maps.netns_fd(), &c) != 0 && errno != ENOENT)
      return fail_errno("deleting from lb_netns", errno);
  return {};
}

void print_summary(std::ostream& out, const PlanSummary& s, size_t writes) {
  if (writes == 0) {
    out << "no change: the maps already hold this configuration\n";
    return;
  }
  out << fmt::format(
      "services: {} added, {} changed, {} removed; endpoints: {} written, {} removed; backends: {} written, {} "
      "removed; addresses: {} written, {} removed ({} map writes)\n",
      s.services_added, s.services_changed, s.services_removed, s.endpoints_written, s.endpoints_removed,
      s.backends_written, s.backends_removed, s.frontends_written, s.frontends_removed, writes);
}

}  // namespace

int run_apply(const ApplyOptions& o, std::ostream& out, std::ostream& err) {
  auto t0 = std::chrono::steady_clock::now();
  const std::string dir = pin_dir_or_default(o.pin_dir);
  MountNotice notice = [&](const std::string& line) { err << "cgscope: " << line << "\n"; };

  // 1. Everything that can be wrong with the input, before any state is touched.
  auto cfg = load_config(o.file);
  if (!cfg) {
    err << "cgscope lb apply: " << cfg.error().message << "\n";
    return 1;
  }
  std::set<uint64_t> netns;
  for (const std::string& p : cfg->netns) {
    auto c = netns_cookie(p);
    if (!c) {
      err << "cgscope lb apply: " << o.file << ": " << c.error().message << "\n";
      return 1;
    }
    netns.insert(*c);
  }
  std::string cgroup = o.cgroup;
  if (cgroup.empty()) {
    auto root = ensure_cgroup2(notice);
    if (!root) {
      err << "cgscope lb apply: " << root.error().message << "\n";
      return 1;
    }
    cgroup = *root;
  }
  auto cg_id = cgroup_id(cgroup);
  if (!cg_id) {
    err << "cgscope lb apply: " << cg_id.error().message << " (--cgroup takes a cgroup v2 directory)\n";
    return 1;
  }
  for (const LinkInfo& l : read_links(dir)) {
    if (l.present && l.cgroup_id && l.cgroup_id != *cg_id) {
      err << fmt::format("cgscope lb apply: lb in {} is attached to another cgroup (id {}), not {}; run `cgscope "
                         "lb reset` first to move it\n",
                         dir, l.cgroup_id, cgroup);
      return 1;
    }
  }
  if (o.dry_run) {
    auto maps = PinnedMaps::open(dir);
    MapState cur;
    if (maps) {
      auto st = maps->read_state();
      if (!st) {
        err << "cgscope lb apply: " << st.error().message << "\n";
        return 1;
      }
      cur = std::move(*st);
    }
    auto want = desired_state(*cfg, cur);
    if (!want) {
      err << "cgscope lb apply: " << want.error().message << "\n";
      return 1;
    }
    Plan p = plan(cur, *want);
    out << o.file << " is valid; would do: ";
    print_summary(out, p.summary, p.ops.size());
    return 0;
  }
  if (auto r = require_root("lb apply"); !r) {
    err << "cgscope lb apply: " << r.error().message << "\n";
    return 1;
  }
  if (auto r = require_kernel_features(KernelJob::lb); !r) {
    err << "cgscope lb apply: " << r.error().message << "\n";
    return 1;
  }
  if (dir.rfind("/sys/fs/bpf/", 0) == 0) {
    if (auto r = ensure_bpffs("/sys/fs/bpf", notice); !r) {
      err << "cgscope lb apply: " << r.error().message << "\n";
      return 1;
    }
  }

  // 2. Programs loaded against the pinned maps (made on first use).
  auto loader = Loader::load(dir);
  if (!loader) {
    err << "cgscope lb apply: " << loader.error().message << "\n";
    return 1;
  }
  bool created = loader->created_pins();
  auto undo = [&] {
    if (created) (void)remove_pins(dir);
  };
  auto maps = PinnedMaps::open(dir);
  if (!maps) {
    err << "cgscope lb apply: " << maps.error().message << "\n";
    undo();
    return 1;
  }
  auto cur = maps->read_state();
  if (!cur) {
    err << "cgscope lb apply: reading the current state: " << cur.error().message << "\n";
    undo();
    return 1;
  }
  auto want = desired_state(*cfg, *cur);
  if (!want) {
    err << "cgscope lb apply: " << want.error().message << "\n";
    undo();
    return 1;
  }
  Plan p = plan(*cur, *want);

  // 3. The writes, in the planner's order; then the hooks (first use only).
  if (auto r = apply_netns(*maps, netns); !r) {
    err << "cgscope lb apply: " << r.error().message << "\n";
    undo();
    return 1;
  }
  size_t done = 0;
  if (auto r = maps->execute(p.ops, &done); !r) {
    err << "cgscope lb apply: " << r.error().message
        << "\n  the maps hold a consistent mix of the old and new configuration; fix the cause and apply again\n";
    if (created) undo();
    return 1;
  }
  std::vector<std::string> notes;
  if (auto r = loader->attach(cgroup, &notes); !r) {
    err << "cgscope lb apply: " << r.error().message << "\n";
    undo();
    return 1;
  }
  auto t1 = std::chrono::steady_clock::now();
  for (const std::string& n : notes) out << n << "\n";
  if (auto problem = lb_proxy_order_problem(cgroup)) err << "cgscope lb apply: warning: " << *problem << "\n";
  print_summary(out, p.summary, p.ops.size());
  out << fmt::format("applied {} in {:.1f} ms ({} services, pins in {})\n", o.file,
                     std::chrono::duration<double, std::milli>(t1 - t0).count(), cfg->services.size(), dir);
  return 0;
}

int run_status(const std::string& pin_dir, bool json, std::ostream& out, std::ostream& err) {
  const std::string dir = pin_dir_or_default(pin_dir);
  auto s = read_status(dir);
  if (!s) {
    if (s.error().code == ENOENT) {
      if (json) out << "{\"applied\": false}\n";
      else out << "lb: nothing applied (no state under " << dir << ")\n";
      return 0;
    }
    err << "cgscope lb status: " << s.error().message << "\n";
    return 1;
  }
  if (json) {
    auto j = status_json(*s);
    j["applied"] = true;
    out << j.dump(2) << "\n";
  } else {
    out << status_text(*s);
  }
  return 0;
}

int run_reset(const std::string& pin_dir, std::ostream& out, std::ostream& err) {
  const std::string dir = pin_dir_or_default(pin_dir);
  auto r = remove_pins(dir);
  if (!r) {
    err << "cgscope lb reset: " << r.error().message << "\n";
    return 1;
  }
  if (r->empty()) out << "lb: nothing to reset under " << dir << "\n";
  else out << fmt::format("lb: detached the hooks and removed {} pins from {}\n", r->size(), dir);
  return 0;
}

}  // namespace cgscope::lb
