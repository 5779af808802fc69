// libFuzzer target: container identification from an arbitrary cgroup path.
// Checks the promises of container_id.h, not just the absence of crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "trace/container_id.h"

using cgscope::trace::container_from_cgroup_path;
using cgscope::trace::is_container_id;
using cgscope::trace::match_container;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view path(reinterpret_cast<const char*>(data), size);
  auto m = match_container(path);
  auto r = container_from_cgroup_path(path);
  if (m.has_value() != r.has_value()) std::abort();
  if (!m) return 0;
  const auto& ref = m->ref;
  if (ref.id != r->id || ref.runtime != r->runtime || ref.pod_uid != r->pod_uid) std::abort();
  if (!is_container_id(ref.id)) std::abort();
  if (ref.runtime != "docker" && ref.runtime != "containerd" && ref.runtime != "crio" && ref.runtime != "podman" &&
      ref.runtime != "kubepods")
    std::abort();
  // The container's cgroup is a prefix of the path that ends in a whole component
  // holding the id.
  if (m->cgroup_len == 0 || m->cgroup_len > path.size()) std::abort();
  if (m->cgroup_len < path.size() && path[m->cgroup_len] != '/') std::abort();
  std::string_view own = path.substr(0, m->cgroup_len);
  if (own.find(ref.id) == std::string_view::npos) std::abort();
  // The container's cgroup names the same container.
  auto again = match_container(own);
  if (!again || again->ref.id != ref.id || again->cgroup_len != m->cgroup_len) std::abort();
  // A pod UID is lowercase hex and '-' only ('_' turned back), and only with kubepods on the path.
  for (char c : ref.pod_uid)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-')) std::abort();
  if (!ref.pod_uid.empty() && path.find("kubepods") == std::string_view::npos) std::abort();
  return 0;
}
