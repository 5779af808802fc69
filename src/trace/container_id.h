// Which container a cgroup belongs to, from its path alone (no I/O).
//
// Container runtimes name the cgroup of a container after the container's id:
//   docker, systemd driver    /system.slice/docker-<id>.scope
//   docker, cgroupfs driver   /docker/<id>
//   containerd (CRI)          .../cri-containerd-<id>.scope
//   CRI-O                     .../crio-<id>.scope, or crio-<id> (cgroupfs manager);
//                             crio-conmon-<id>.scope is CRI-O's monitor, not the container
//   podman                    .../libpod-<id>.scope, or libpod-<id> (cgroupfs manager);
//                             libpod-conmon-<id>.scope is the monitor
//   Kubernetes pods           /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid>.slice/<one of the above>
//                             (uid with '_' for '-'), or the cgroupfs form
//                             /kubepods/<qos>/pod<uid>/<id>
// where <id> is exactly 64 lowercase hex characters. The innermost match on the
// path wins, so a container nested in a container (docker-in-docker) is reported
// as itself, and a cgroup below a container's (systemd's init.scope inside it, say)
// as that container.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cgscope::trace {

struct ContainerRef {
  std::string runtime;  // docker|containerd|crio|podman|kubepods (runtime unknown, pod cgroupfs form)
  std::string id;       // full 64-hex id
  std::string pod_uid;  // "" if none
};

// A match, and where on the path the container's own cgroup ends:
// path.substr(0, cgroup_len) is the cgroup named after the container.
struct ContainerMatch {
  ContainerRef ref;
  std::size_t cgroup_len = 0;
};

// True for exactly 64 lowercase hex characters.
bool is_container_id(std::string_view s);

std::optional<ContainerMatch> match_container(std::string_view cgroup_path);

std::optional<ContainerRef> container_from_cgroup_path(std::string_view path);

}  // namespace cgscope::trace
