#include "trace/container_id.h"

#include <vector>

namespace cgscope::trace {
namespace {

constexpr std::string_view kScope = ".scope";
constexpr std::string_view kSlice = ".slice";

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

struct Component {
  std::size_t start;
  std::string_view name;
};

std::vector<Component> split_path(std::string_view path) {
  std::vector<Component> out;
  std::size_t pos = 0;
  while (pos < path.size()) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) out.push_back({pos, path.substr(pos, slash - pos)});
    pos = slash + 1;
  }
  return out;
}

// Kubernetes pod UIDs are UUIDs; static pods use a 32-hex hash. Accept both
// shapes loosely: lowercase hex and '-', at most 64 characters.
bool is_pod_uid(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-')) return false;
  return true;
}

// The pod UID a component names, or "".
//   kubepods-pod<uid>.slice, kubepods-<qos>-pod<uid>.slice  (systemd; '_' stands for '-')
//   pod<uid>                                               (cgroupfs)
std::string pod_uid_of(std::string_view c, bool under_kubepods) {
  if (starts_with(c, "kubepods-") && ends_with(c, kSlice)) {
    std::string_view core = c.substr(0, c.size() - kSlice.size());
    std::size_t at = core.rfind("-pod");
    if (at == std::string_view::npos) return "";
    std::string_view uid = core.substr(at + 4);
    if (uid.find('-') != std::string_view::npos) return "";  // '-' separates slice levels
    std::string out(uid);
    for (char& ch : out)
      if (ch == '_') ch = '-';
    return is_pod_uid(out) ? out : "";
  }
  if (under_kubepods && starts_with(c, "pod")) {
    std::string_view uid = c.substr(3);
    return is_pod_uid(uid) ? std::string(uid) : "";
  }
  return "";
}

struct Named {
  std::string_view runtime;
  std::string_view id;
};

// "<prefix><id>.scope" (and "<prefix><id>" where the runtime's cgroupfs mode uses it).
std::optional<Named> match_prefixed(std::string_view c) {
  struct Rule {
    std::string_view prefix;
    std::string_view runtime;
    bool scope_optional;
  };
  // Prefixes of each other are fine: the rest must then be exactly an id, so
  // "crio-conmon-<id>.scope" and "libpod-conmon-<id>.scope" never match.
  static constexpr Rule kRules[] = {
      {"docker-", "docker", false},
      {"cri-containerd-", "containerd", false},
      {"crio-", "crio", true},
      {"libpod-", "podman", true},
  };
  bool scoped = ends_with(c, kScope);
  std::string_view core = scoped ? c.substr(0, c.size() - kScope.size()) : c;
  for (const Rule& r : kRules) {
    if (!starts_with(core, r.prefix)) continue;
    if (!scoped && !r.scope_optional) continue;
    std::string_view id = core.substr(r.prefix.size());
    if (is_container_id(id)) return Named{r.runtime, id};
  }
  return std::nullopt;
}

}  // namespace

bool is_container_id(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::optional<ContainerMatch> match_container(std::string_view path) {
  const std::vector<Component> comps = split_path(path);

  // kubepods_before[i]: some component before i starts with "kubepods".
  std::vector<bool> kubepods_before(comps.size() + 1, false);
  for (std::size_t i = 0; i < comps.size(); ++i)
    kubepods_before[i + 1] = kubepods_before[i] || starts_with(comps[i].name, "kubepods");

  for (std::size_t i = comps.size(); i-- > 0;) {
    std::string_view c = comps[i].name;
    std::optional<Named> named = match_prefixed(c);
    if (!named && is_container_id(c) && i > 0) {
      // A bare id: docker's cgroupfs driver (/docker/<id>) or a pod's container
      // in the cgroupfs form (/kubepods/<qos>/pod<uid>/<id>).
      std::string_view parent = comps[i - 1].name;
      if (parent == "docker")
        named = Named{"docker", c};
      else if (!pod_uid_of(parent, kubepods_before[i - 1]).empty())
        named = Named{"kubepods", c};
    }
    if (!named) continue;

    ContainerMatch m;
    m.ref.runtime = std::string(named->runtime);
    m.ref.id = std::string(named->id);
    m.cgroup_len = comps[i].start + c.size();
    for (std::size_t j = i; j-- > 0;) {
      std::string uid = pod_uid_of(comps[j].name, kubepods_before[j]);
      if (!uid.empty()) {
        m.ref.pod_uid = std::move(uid);
        break;
      }
    }
    return m;
  }
  return std::nullopt;
}

std::optional<ContainerRef> container_from_cgroup_path(std::string_view path) {
  auto m = match_container(path);
  if (!m) return std::nullopt;
  return std::move(m->ref);
}

}  // namespace cgscope::trace
