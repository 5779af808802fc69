#include "lb/maps.h"

#include "core/cgroup2.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "core/pin_swap.h"
#include "core/sock_cookie.h"
#include "lb.skel.h"

namespace cgscope::lb {

namespace {

std::string join(const std::string& dir, std::string_view name) { return dir + "/" + std::string(name); }

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// Every entry of a map, through batched lookups (one syscall per few thousand).
// `value_size` is the size the syscall fills (per-CPU maps: all CPUs).
template <class Fn>
Result<void> dump(int fd, size_t key_size, size_t value_size, Fn&& fn) {
  constexpr uint32_t kChunk = 4096;
  std::vector<uint8_t> keys(key_size * kChunk), values(value_size * kChunk);
  uint64_t in_tok = 0, out_tok = 0;
  bool first = true;
  for (;;) {
    uint32_t count = kChunk;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_tok, &out_tok, keys.data(), values.data(), &count,
                                   nullptr);
    int e = err ? errno : 0;
    if (err && e != ENOENT) return fail_errno("reading a map", e);
    for (uint32_t i = 0; i < count; i++) fn(keys.data() + i * key_size, values.data() + i * value_size);
    if (err) return {};
    in_tok = out_tok;
    first = false;
  }
}

size_t percpu_size(size_t value_size) {
  int n = libbpf_num_possible_cpus();
  return ((value_size + 7) / 8) * 8 * static_cast<size_t>(n > 0 ? n : 1);
}

}  // namespace

// ---- PinnedMaps ----

Result<PinnedMaps> PinnedMaps::open(const std::string& dir) {
  PinnedMaps m;
  UniqueFd* fds[] = {&m.frontend_, &m.service_, &m.endpoint_, &m.backend_, &m.name_, &m.counters_,
                     &m.stats_,    &m.config_,  &m.netns_,    &m.exempt_,  nullptr, &m.waypoint_orig_,
                     nullptr};  // lb_orig and lb_affinity: the programs' alone
  static_assert(std::size(fds) == std::size(kMapNames));
  for (size_t i = 0; i < std::size(kMapNames); i++) {
    if (!fds[i]) continue;
    std::string p = join(dir, kMapNames[i]);
    int fd = bpf_obj_get(p.c_str());
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT) return fail(fmt::format("no lb state under {} (nothing applied yet)", dir), ENOENT);
      return fail_errno(fmt::format("opening pinned map {}", p), e);
    }
    fds[i]->reset(fd);
  }
  return m;
}

int PinnedMaps::fd(MapKind m) const {
  switch (m) {
    case MapKind::backend: return backend_.get();
    case MapKind::endpoint: return endpoint_.get();
    case MapKind::name: return name_.get();
    case MapKind::service: return service_.get();
    case MapKind::frontend: return frontend_.get();
    case MapKind::counters: return counters_.get();
  }
  return -1;
}

namespace {

// A map built from entries in any order: sorted first, then each inserted at
// the end (constant time with the hint), rather than a tree walk each.
template <class K, class V>
void fill_sorted(std::map<K, V>& m, std::vector<std::pair<K, V>>&& v) {
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [k, val] : v) m.emplace_hint(m.end(), std::move(k), std::move(val));
}

template <class K, class V, class Fn>
Result<void> read_map(int fd, size_t key_size, size_t value_size, std::map<K, V>& into, Fn&& convert) {
  std::vector<std::pair<K, V>> entries;
  auto r = dump(fd, key_size, value_size, [&](const uint8_t* k, const uint8_t* v) { entries.push_back(convert(k, v)); });
  if (!r) return r;
  fill_sorted(into, std::move(entries));
  return {};
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

Result<MapState> PinnedMaps::read_state() const {
  MapState s;
  auto r = read_map(frontend_.get(), sizeof(cgs_lb_frontend_key), sizeof(cgs_lb_frontend_value), s.frontends,
                    [](const uint8_t* k, const uint8_t* v) {
                      return std::pair{from_abi(load<cgs_lb_frontend_key>(k).addr), load<cgs_lb_frontend_value>(v)};
                    });
  if (!r) return fail_with("lb_frontend", r.error());
  r = read_map(service_.get(), sizeof(cgs_lb_service_key), sizeof(cgs_lb_service_value), s.services,
               [](const uint8_t* k, const uint8_t* v) {
                 return std::pair{load<cgs_lb_service_key>(k).id, load<cgs_lb_service_value>(v)};
               });
  if (!r) return fail_with("lb_service", r.error());
  r = read_map(endpoint_.get(), sizeof(cgs_lb_endpoint_key), sizeof(cgs_lb_endpoint_value), s.endpoints,
               [](const uint8_t* k, const uint8_t* v) {
                 auto key = load<cgs_lb_endpoint_key>(k);
                 return std::pair{EndpointKey{key.service_id, key.tier, key.index}, load<cgs_lb_endpoint_value>(v).backend_id};
               });
  if (!r) return fail_with("lb_endpoint", r.error());
  r = read_map(backend_.get(), sizeof(cgs_lb_backend_key), sizeof(cgs_lb_backend_value), s.backends,
               [](const uint8_t* k, const uint8_t* v) {
                 return std::pair{load<cgs_lb_backend_key>(k).id, load<cgs_lb_backend_value>(v)};
               });
  if (!r) return fail_with("lb_backend", r.error());
  auto names = read_names();
  if (!names) return fail_with(names.error());
  s.names = std::move(*names);
  r = dump(counters_.get(), sizeof(cgs_lb_service_key), percpu_size(sizeof(cgs_lb_counters)),
           [&](const uint8_t* k, const uint8_t*) { s.counters.insert(load<cgs_lb_service_key>(k).id); });
  if (!r) return fail_with("lb_counters", r.error());
  return s;
}

Result<std::map<uint32_t, std::string>> PinnedMaps::read_names() const {
  std::map<uint32_t, std::string> names;
  auto r = read_map(name_.get(), sizeof(cgs_lb_service_key), sizeof(cgs_lb_name_value), names,
                    [](const uint8_t* k, const uint8_t* v) {
                      auto val = load<cgs_lb_name_value>(v);
                      val.name[sizeof(val.name) - 1] = 0;
                      return std::pair{load<cgs_lb_service_key>(k).id, std::string(val.name)};
                    });
  if (!r) return fail_with("lb_name", r.error());
  return names;
}

Result<std::map<uint32_t, cgs_lb_counters>> PinnedMaps::read_counters() const {
  std::map<uint32_t, cgs_lb_counters> out;
  const size_t stride = (sizeof(cgs_lb_counters) + 7) / 8 * 8;
  const size_t vsize = percpu_size(sizeof(cgs_lb_counters));
  auto r = dump(counters_.get(), sizeof(cgs_lb_service_key), vsize, [&](const uint8_t* k, const uint8_t* v) {
    cgs_lb_service_key key;
    std::memcpy(&key, k, sizeof key);
    cgs_lb_counters sum{};
    for (size_t off = 0; off < vsize; off += stride) {
      cgs_lb_counters c;
      std::memcpy(&c, v + off, sizeof c);
      sum.balanced += c.balanced;
      sum.refused += c.refused;
      sum.established += c.established;
      sum.failed += c.failed;
    }
    out[key.id] = sum;
  });
  if (!r) return fail_with("lb_counters", r.error());
  return out;
}

Result<std::vector<uint64_t>> PinnedMaps::read_stats() const {
  std::vector<uint64_t> out(CGS_LB_STAT_NR, 0);
  std::vector<uint64_t> per(percpu_size(sizeof(uint64_t)) / 8);
  for (uint32_t i = 0; i < CGS_LB_STAT_NR; i++) {
    if (bpf_map_lookup_elem(stats_.get(), &i, per.data()) != 0) return fail_errno("reading lb_stats", errno);
    for (uint64_t v : per) out[i] += v;
  }
  return out;
}

namespace {

// CGSCOPE_LB_TEST_DIE_AFTER_WRITES=N: the process kills itself (SIGKILL, as a
// crash or an OOM kill would) after N map writes of a plan. For the tests that
// check that the next apply repairs whatever a killed one left; nothing else
// sets it.
long die_after_writes() {
  static const long n = [] {
    const char* v = std::getenv("CGSCOPE_LB_TEST_DIE_AFTER_WRITES");
    return v && *v ? std::strtol(v, nullptr, 10) : -1L;
  }();
  return n;
}

}  // namespace

// Runs of writes to one map of one kind go to the kernel as one batch
// (BPF_MAP_UPDATE_BATCH / BPF_MAP_DELETE_BATCH): the kernel applies them one
// element at a time, in order, exactly as single writes, so every state a
// connect can see between two of them is one the plan allows; only the
// syscalls are fewer. A removal of an entry already gone is not an error.
Result<void> PinnedMaps::execute(const std::vector<Op>& ops, size_t* done) const {
  constexpr size_t kBatch = 1024;
  const long die_after = die_after_writes();
  std::vector<uint8_t> keys, values;
  size_t n = 0;
  auto report = [&](size_t at, int e) {
    if (done) *done = at;
    const Op& op = ops[at];
    return fail_errno(fmt::format("{} map {} (write {} of {})", op.kind == OpKind::update ? "updating" : "deleting in",
                                  map_kind_name(op.map), at + 1, ops.size()),
                      e);
  };
  while (n < ops.size()) {
    if (die_after >= 0 && static_cast<long>(n) == die_after) ::raise(SIGKILL);
    size_t end = n + 1;
    while (end < ops.size() && end - n < kBatch && ops[end].map == ops[n].map && ops[end].kind == ops[n].kind) end++;
    if (die_after >= 0 && static_cast<long>(n) < die_after && static_cast<long>(end) > die_after) end = die_after;
    keys.clear();
    values.clear();
    for (size_t i = n; i < end; i++) {
      keys.insert(keys.end(), ops[i].key().begin(), ops[i].key().end());
      values.insert(values.end(), ops[i].value().begin(), ops[i].value().end());
    }
    uint32_t count = static_cast<uint32_t>(end - n);
    const bool up = ops[n].kind == OpKind::update;
    int err = up ? bpf_map_update_batch(fd(ops[n].map), keys.data(), values.data(), &count, nullptr)
                 : bpf_map_delete_batch(fd(ops[n].map), keys.data(), &count, nullptr);
    int e = err ? errno : 0;
    n += count;
    if (!err) continue;
    if (!up && e == ENOENT) {  // that key is gone already: skip it, go on with the rest
      n++;
      continue;
    }
    return report(n, e);
  }
  if (done) *done = n;
  return {};
}

std::vector<LinkInfo> read_links(const std::string& dir) {
  return read_pinned_links(dir, std::vector<std::string>(std::begin(kLinkNames), std::end(kLinkNames)));
}

// ---- Loader ----

struct Loader::Impl {
  lb_bpf* skel = nullptr;
  std::string dir;
  std::optional<PinSwap> swap;  // put back unless attach commits it
  ~Impl() {
    if (skel) lb_bpf__destroy(skel);
  }
};

Loader::Loader(Loader&&) noexcept = default;
Loader& Loader::operator=(Loader&&) noexcept = default;
Loader::~Loader() = default;

namespace {

// The maps whose contents are the programs' own, and soft: per-socket records,
// affinity, counters. One made by another version (or at another size) is
// replaced instead of failing the apply (core/pin_swap.h): an upgrade keeps
// balancing, and loses only getpeername answers of sockets already connected,
// affinity and counts. The others hold what the user applied: one of those
// that no longer fits fails the apply before anything changes.
//
// lb_affinity is an LRU map, which the kernel allocates whole when it makes it
// (6.5 MiB at CGS_LB_MAX_AFFINITY entries): it is made at full size only while
// some service asks for affinity, else with one entry, and so replaced whenever
// that changes.
Result<PinSwap> prepare_maps(lb_bpf* skel, const std::string& dir, bool affinity) {
  if (bpf_map__set_max_entries(skel->maps.lb_affinity, affinity ? CGS_LB_MAX_AFFINITY : 1) != 0)
    return fail_errno("sizing lb_affinity", errno);
  bpf_map* const soft[] = {skel->maps.lb_orig, skel->maps.lb_affinity, skel->maps.lb_counters, skel->maps.lb_stats,
                           skel->maps.lb_waypoint_orig};
  std::vector<bpf_map*> hard;
  bpf_map* m;
  bpf_object__for_each_map(m, skel->obj) {
    if (std::find(std::begin(soft), std::end(soft), m) == std::end(soft)) hard.push_back(m);
  }
  return PinSwap::prepare(dir, soft, hard, "cgscope lb reset");
}

}  // namespace

Result<Loader> Loader::load(const std::string& dir, bool affinity) {
  Loader l;
  l.impl_ = std::make_unique<Impl>();
  l.impl_->dir = dir;
  l.created_ = !exists(join(dir, "lb_frontend"));
  if (auto r = make_pin_dir(dir); !r) return fail_with(r.error());
  l.impl_->skel = lb_bpf__open();
  if (!l.impl_->skel) return fail_errno("opening the lb BPF object", errno);
  auto swap = prepare_maps(l.impl_->skel, dir, affinity);
  if (!swap) return fail_with(swap.error());
  l.impl_->swap.emplace(std::move(*swap));
  if (auto r = pin_maps_in(l.impl_->skel->obj, dir); !r) return fail_with(r.error());
  if (lb_bpf__load(l.impl_->skel) != 0) {
    int e = errno;
    return fail_errno(fmt::format("loading the lb programs against the maps pinned in {} (pins from an "
                                  "incompatible version? `cgscope lb reset` removes them)",
                                  dir),
                      e);
  }
  return l;
}

Result<void> Loader::attach(const std::string& cgroup_path, std::vector<std::string>* notes) {
  lb_bpf* s = impl_->skel;
  const PinnedHook hooks[] = {{kLinkNames[0], s->progs.lb_connect4},
                              {kLinkNames[1], s->progs.lb_connect6},
                              {kLinkNames[2], s->progs.lb_getpeername4},
                              {kLinkNames[3], s->progs.lb_getpeername6},
                              {kLinkNames[4], s->progs.lb_sockops}};
  static_assert(std::size(hooks) == std::size(kLinkNames));
  auto r = attach_pinned_hooks(impl_->dir, cgroup_path, hooks, "cgscope lb reset", notes);
  if (!r) return r;
  if (notes)
    for (const std::string& name : impl_->swap->replaced())
      notes->push_back(fmt::format("replaced {} (made by another version with another definition)", name));
  impl_->swap->commit();
  return {};
}

Result<std::vector<std::string>> remove_pins(const std::string& dir) {
  // This binary's names, links in attach order, and then, in a dir that is lb's
  // (it holds lb_frontend), any other lb_/link_ pin: state pinned by another
  // version of cgscope (a map added or dropped since) must go too, or the dir
  // stays behind. In any other dir (a shared --pin-dir) nothing else is touched.
  std::vector<std::string> links(std::begin(kLinkNames), std::end(kLinkNames));
  std::vector<std::string> maps(std::begin(kMapNames), std::end(kMapNames));
  if (::access(join(dir, "lb_frontend").c_str(), F_OK) == 0) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return fail_errno(fmt::format("reading {}", dir), errno);
    while (dirent* e = ::readdir(d.get())) {
      std::string n = e->d_name;
      auto& list = n.starts_with("link_") ? links : maps;
      if ((n.starts_with("link_") || n.starts_with("lb_")) && std::find(list.begin(), list.end(), n) == list.end())
        list.push_back(n);
    }
  }
  std::vector<std::string> removed;
  // Links first: the hooks stop before the maps they read go away.
  if (auto r = detach_pinned_links(dir, links, removed); !r) return fail_with(r.error());
  for (const std::string& name : maps) {
    std::string p = join(dir, name);
    if (::unlink(p.c_str()) == 0) removed.push_back(name);
    else if (errno != ENOENT) return fail_errno(fmt::format("removing {}", p), errno);
  }
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
    return fail_errno(fmt::format("removing {} (something else is pinned there?)", dir), errno);
  // The default dir's parent is shared with the other jobs: removed only if empty.
  auto slash = dir.rfind('/');
  if (slash != std::string::npos && dir.substr(slash + 1) == "lb" && dir.find("/cgscope/") != std::string::npos)
    ::rmdir(dir.substr(0, slash).c_str());
  return removed;
}

Result<void> exempt_socket(const std::string& dir, int sock_fd) {
  auto sc = socket_cookie(sock_fd);
  if (!sc) return fail_with(sc.error());
  uint64_t cookie = *sc;
  std::string p = join(dir, "lb_exempt");
  UniqueFd fd(bpf_obj_get(p.c_str()));
  if (!fd) return errno == ENOENT ? Result<void>() : Result<void>(fail_errno(fmt::format("opening {}", p), errno));
  cgs_lb_exempt_value v{1, 0};
  if (bpf_map_update_elem(fd.get(), &cookie, &v, BPF_ANY) != 0) return fail_errno("updating lb_exempt", errno);
  // The entry first, then the flag that makes the hooks look entries up.
  std::string cp = join(dir, "lb_config");
  UniqueFd cfd(bpf_obj_get(cp.c_str()));
  if (!cfd) return fail_errno(fmt::format("opening {}", cp), errno);
  uint32_t zero = 0;
  cgs_lb_config cfg{};
  if (bpf_map_lookup_elem(cfd.get(), &zero, &cfg) != 0) return fail_errno("reading lb_config", errno);
  if (!cfg.exempt_on) {
    cfg.exempt_on = 1;
    if (bpf_map_update_elem(cfd.get(), &zero, &cfg, BPF_ANY) != 0) return fail_errno("updating lb_config", errno);
  }
  return {};
}

Result<uint64_t> netns_cookie(const std::string& path) {
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return fail_errno(fmt::format("opening network namespace {}", path), errno);
  int err = 0;
  Result<uint64_t> cookie = 0;
  // setns on a thread of its own: the rest of the process stays where it is.
  std::thread t([&] {
    if (setns(ns.get(), CLONE_NEWNET) != 0) err = errno;
    else cookie = current_netns_cookie();
  });
  t.join();
  if (err) return fail_errno(fmt::format("entering network namespace {}", path), err);
  if (!cookie) return fail(fmt::format("network namespace {}: {}", path, cookie.error().message), cookie.error().code);
  return *cookie;
}

Result<uint64_t> map_memory_bytes(const std::string& dir) {
  uint64_t total = 0;
  for (const char* name : kMapNames) {
    UniqueFd fd(bpf_obj_get(join(dir, name).c_str()));
    if (!fd) continue;
    std::ifstream in(fmt::format("/proc/self/fdinfo/{}", fd.get()));
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("memlock:", 0) == 0) total += std::stoull(line.substr(8));
  }
  return total;
}

}  // namespace cgscope::lb
