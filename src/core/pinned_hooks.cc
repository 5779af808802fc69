#include "core/pinned_hooks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "core/cgroup2.h"
#include "core/unique_fd.h"

namespace cgscope {
namespace {

std::string join(const std::string& dir, std::string_view name) { return dir + "/" + std::string(name); }

// What makes two loaded programs interchangeable: the code (its tag, which is
// taken with map references blanked) and the maps it uses.
struct ProgIdentity {
  std::array<uint8_t, 8> tag{};
  std::vector<uint32_t> map_ids;
  bool operator==(const ProgIdentity&) const = default;
};

Result<ProgIdentity> prog_identity(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return fail_errno("reading program info", errno);
  ProgIdentity id;
  std::memcpy(id.tag.data(), info.tag, 8);
  id.map_ids.resize(info.nr_map_ids);
  if (info.nr_map_ids) {
    const uint32_t n = info.nr_map_ids;
    info = bpf_prog_info{};
    info.nr_map_ids = n;
    info.map_ids = reinterpret_cast<uintptr_t>(id.map_ids.data());
    len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return fail_errno("reading program maps", errno);
    id.map_ids.resize(std::min(n, info.nr_map_ids));
  }
  std::sort(id.map_ids.begin(), id.map_ids.end());
  return id;
}

// Whether the program with id `old_id` is the same code on the same maps as the
// one at `new_fd`. The same code on a map that was replaced (core/pin_swap.h)
// is not: the hook must move to the new map.
bool same_program(uint32_t old_id, int new_fd) {
  UniqueFd old(bpf_prog_get_fd_by_id(old_id));
  if (!old) return false;
  auto a = prog_identity(old.get());
  auto b = prog_identity(new_fd);
  return a && b && *a == *b;
}

// A newly made link: attached, pinned, and our fd closed (the pin holds it).
Result<void> attach_and_pin(const PinnedHook& h, int cgroup_fd, const std::string& cgroup_path,
                            const std::string& path) {
  bpf_link* link = bpf_program__attach_cgroup(h.prog, cgroup_fd);
  if (!link) return fail_errno(fmt::format("attaching {} to cgroup {}", bpf_program__name(h.prog), cgroup_path), errno);
  int err = bpf_link__pin(link, path.c_str()) != 0 ? errno : 0;
  bpf_link__destroy(link);  // closes our fd; the pin (if made) keeps the link attached
  if (err) return fail_errno(fmt::format("pinning {}", path), err);
  return {};
}

}  // namespace

Result<void> make_pin_dir(const std::string& dir) {
  std::string cur;
  for (size_t pos = 0; pos < dir.size();) {
    size_t slash = dir.find('/', pos + 1);
    if (slash == std::string::npos) slash = dir.size();
    cur = dir.substr(0, slash);
    pos = slash;
    if (cur.size() <= 1) continue;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno(fmt::format("creating {}", cur), errno);
  }
  return {};
}

Result<void> pin_maps_in(bpf_object* obj, const std::string& dir) {
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    std::string p = join(dir, bpf_map__name(m));
    if (bpf_map__set_pin_path(m, p.c_str()) != 0) return fail_errno(fmt::format("setting pin path {}", p), errno);
  }
  return {};
}

Result<void> attach_pinned_hooks(const std::string& dir, const std::string& cgroup_path,
                                 std::span<const PinnedHook> hooks, const std::string& reset_command,
                                 std::vector<std::string>* notes) {
  UniqueFd cg(::open(cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) return fail_errno(fmt::format("opening cgroup {}", cgroup_path), errno);
  auto cg_id = cgroup_id(cgroup_path);
  if (!cg_id) return fail_with(cg_id.error());

  // Every pinned link first, so that a refusal changes nothing.
  std::vector<UniqueFd> pinned(hooks.size());
  std::vector<uint32_t> pinned_prog(hooks.size(), 0);
  for (size_t i = 0; i < hooks.size(); i++) {
    pinned[i].reset(bpf_obj_get(join(dir, hooks[i].pin_name).c_str()));
    if (!pinned[i]) continue;
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(pinned[i].get(), &info, &len) != 0)
      return fail_errno(fmt::format("reading pinned link {}", hooks[i].pin_name), errno);
    if (info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id != *cg_id)
      return fail(fmt::format("{} is attached to another cgroup (id {}), not {} (id {}); run `{}` first to move it",
                              join(dir, hooks[i].pin_name), info.cgroup.cgroup_id, cgroup_path, *cg_id,
                              reset_command),
                  EEXIST);
    pinned_prog[i] = info.prog_id;
  }

  std::vector<std::string> made;
  auto rollback = [&] {
    for (const std::string& p : made) {
      UniqueFd fd(bpf_obj_get(p.c_str()));
      if (fd) bpf_link_detach(fd.get());
      ::unlink(p.c_str());
    }
  };
  for (size_t i = 0; i < hooks.size(); i++) {
    const PinnedHook& h = hooks[i];
    std::string path = join(dir, h.pin_name);
    int new_fd = bpf_program__fd(h.prog);
    if (pinned[i]) {
      if (same_program(pinned_prog[i], new_fd)) continue;
      if (bpf_link_update(pinned[i].get(), new_fd, nullptr) != 0) {
        int e = errno;
        rollback();
        return fail_errno(fmt::format("replacing the program of {}", h.pin_name), e);
      }
      if (notes) notes->push_back(fmt::format("replaced the program of {} with this binary's", h.pin_name));
      continue;
    }
    if (auto r = attach_and_pin(h, cg.get(), cgroup_path, path); !r) {
      rollback();
      return r;
    }
    made.push_back(path);
    if (notes) notes->push_back(fmt::format("attached {} to {}", bpf_program__name(h.prog), cgroup_path));
  }
  return {};
}

std::vector<PinnedLinkInfo> read_pinned_links(const std::string& dir, std::span<const std::string> names) {
  std::vector<PinnedLinkInfo> out;
  for (const std::string& name : names) {
    PinnedLinkInfo li;
    li.name = name;
    UniqueFd fd(bpf_obj_get(join(dir, name).c_str()));
    if (fd) {
      li.present = true;
      bpf_link_info info{};
      uint32_t len = sizeof(info);
      if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0) {
        li.prog_id = info.prog_id;
        if (info.type == BPF_LINK_TYPE_CGROUP) li.cgroup_id = info.cgroup.cgroup_id;
      }
    }
    out.push_back(li);
  }
  return out;
}

Result<void> detach_pinned_links(const std::string& dir, std::span<const std::string> names,
                                 std::vector<std::string>& removed) {
  for (const std::string& name : names) {
    std::string p = join(dir, name);
    UniqueFd fd(bpf_obj_get(p.c_str()));
    if (!fd) continue;
    if (bpf_link_detach(fd.get()) != 0 && errno != EINVAL && errno != ENOLINK)
      return fail_errno(fmt::format("detaching {}", p), errno);
    if (::unlink(p.c_str()) != 0) return fail_errno(fmt::format("removing {}", p), errno);
    removed.push_back(name);
  }
  return {};
}

}  // namespace cgscope
