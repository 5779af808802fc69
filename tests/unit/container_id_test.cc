// Container identification from cgroup paths, and the registry's bookkeeping
// that needs no cgroup filesystem.
#include <gtest/gtest.h>

#include <string>

#include "trace/container_id.h"
#include "trace/containers.h"

namespace cgscope::trace {
namespace {

// Two distinct, valid 64-hex ids.
const std::string kA = "4f1c0a1d9e2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5";
const std::string kB = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kPodUid = "7c3b9a52-1f0e-4d6a-9b8c-2e4f6a8b0c1d";
const std::string kPodUidUnderscored = "7c3b9a52_1f0e_4d6a_9b8c_2e4f6a8b0c1d";

ContainerRef ref_of(const std::string& path) {
  auto r = container_from_cgroup_path(path);
  EXPECT_TRUE(r.has_value()) << path;
  return r.value_or(ContainerRef{});
}

void expect_none(const std::string& path) {
  auto r = container_from_cgroup_path(path);
  EXPECT_FALSE(r.has_value()) << path << " -> " << (r ? r->runtime + " " + r->id : "");
}

TEST(ContainerId, IsContainerId) {
  EXPECT_TRUE(is_container_id(kA));
  EXPECT_FALSE(is_container_id(kA.substr(1)));           // 63
  EXPECT_FALSE(is_container_id(kA + "0"));               // 65
  EXPECT_FALSE(is_container_id(std::string(64, 'g')));   // not hex
  std::string upper = kA;
  upper[1] = 'F';
  EXPECT_FALSE(is_container_id(upper));
  EXPECT_FALSE(is_container_id(""));
}

TEST(ContainerId, DockerSystemd) {
  auto r = ref_of("/system.slice/docker-" + kA + ".scope");
  EXPECT_EQ(r.runtime, "docker");
  EXPECT_EQ(r.id, kA);
  EXPECT_EQ(r.pod_uid, "");
}

TEST(ContainerId, DockerCgroupfs) {
  auto r = ref_of("/docker/" + kA);
  EXPECT_EQ(r.runtime, "docker");
  EXPECT_EQ(r.id, kA);
  // A bare id under something that is not "docker" names nothing.
  expect_none("/mygroup/" + kA);
  expect_none("/" + kA);
  expect_none(kA);
}

TEST(ContainerId, BelowAContainerIsThatContainer) {
  auto r = ref_of("/docker/" + kA + "/init.scope");
  EXPECT_EQ(r.id, kA);
  r = ref_of("/system.slice/docker-" + kA + ".scope/system.slice/cron.service");
  EXPECT_EQ(r.id, kA);
  EXPECT_EQ(r.runtime, "docker");
}

TEST(ContainerId, DockerInDockerTakesInnermost) {
  auto r = ref_of("/system.slice/docker-" + kA + ".scope/docker/" + kB);
  EXPECT_EQ(r.runtime, "docker");
  EXPECT_EQ(r.id, kB);
  r = ref_of("/docker/" + kA + "/docker/" + kB);
  EXPECT_EQ(r.id, kB);
  r = ref_of("/docker/" + kA + "/docker/" + kB + "/init.scope");
  EXPECT_EQ(r.id, kB);
  // The inner one is podman: innermost wins whatever the runtime.
  r = ref_of("/system.slice/docker-" + kA + ".scope/libpod-" + kB + ".scope");
  EXPECT_EQ(r.runtime, "podman");
  EXPECT_EQ(r.id, kB);
}

TEST(ContainerId, SameIdTwice) {
  auto r = ref_of("/system.slice/docker-" + kA + ".scope/docker-" + kA + ".scope");
  EXPECT_EQ(r.id, kA);
  // The second bare id's parent is the first id, not "docker": the outer one names it.
  auto m = match_container("/docker/" + kA + "/" + kA);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ref.id, kA);
  EXPECT_EQ(m->cgroup_len, std::string("/docker/").size() + 64);
}

TEST(ContainerId, Containerd) {
  auto r = ref_of("/system.slice/cri-containerd-" + kA + ".scope");
  EXPECT_EQ(r.runtime, "containerd");
  EXPECT_EQ(r.id, kA);
}

TEST(ContainerId, CrioButNotConmon) {
  auto r = ref_of("/machine.slice/crio-" + kA + ".scope");
  EXPECT_EQ(r.runtime, "crio");
  EXPECT_EQ(r.id, kA);
  expect_none("/machine.slice/crio-conmon-" + kA + ".scope");
  // cgroupfs manager: no .scope.
  r = ref_of("/kubepods/besteffort/pod" + kPodUid + "/crio-" + kA);
  EXPECT_EQ(r.runtime, "crio");
  EXPECT_EQ(r.pod_uid, kPodUid);
  expect_none("/kubepods/besteffort/pod" + kPodUid + "/crio-conmon-" + kA);
}

TEST(ContainerId, PodmanButNotConmon) {
  auto r = ref_of("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kA + ".scope");
  EXPECT_EQ(r.runtime, "podman");
  EXPECT_EQ(r.id, kA);
  expect_none("/machine.slice/libpod-conmon-" + kA + ".scope");
  r = ref_of("/libpod_parent/libpod-" + kA);
  EXPECT_EQ(r.runtime, "podman");
  // The container's own cgroup below the conmon-less scope (podman's "container" subgroup).
  r = ref_of("/machine.slice/libpod-" + kA + ".scope/container");
  EXPECT_EQ(r.id, kA);
}

TEST(ContainerId, KubernetesSystemdDriver) {
  auto r = ref_of("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUidUnderscored +
                  ".slice/cri-containerd-" + kA + ".scope");
  EXPECT_EQ(r.runtime, "containerd");
  EXPECT_EQ(r.id, kA);
  EXPECT_EQ(r.pod_uid, kPodUid);

  r = ref_of("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kPodUidUnderscored +
             ".slice/crio-" + kB + ".scope");
  EXPECT_EQ(r.runtime, "crio");
  EXPECT_EQ(r.pod_uid, kPodUid);

  // Guaranteed QoS pods sit directly under kubepods.slice.
  r = ref_of("/kubepods.slice/kubepods-pod" + kPodUidUnderscored + ".slice/docker-" + kA + ".scope");
  EXPECT_EQ(r.runtime, "docker");
  EXPECT_EQ(r.pod_uid, kPodUid);

  // Static pods: the UID is a 32-hex hash.
  r = ref_of("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0123456789abcdef0123456789abcdef.slice/"
             "cri-containerd-" + kA + ".scope");
  EXPECT_EQ(r.pod_uid, "0123456789abcdef0123456789abcdef");
}

TEST(ContainerId, KubernetesCgroupfsDriver) {
  auto r = ref_of("/kubepods/burstable/pod" + kPodUid + "/" + kA);
  EXPECT_EQ(r.runtime, "kubepods");
  EXPECT_EQ(r.id, kA);
  EXPECT_EQ(r.pod_uid, kPodUid);
  r = ref_of("/kubepods/pod" + kPodUid + "/" + kB);  // guaranteed
  EXPECT_EQ(r.id, kB);
  EXPECT_EQ(r.pod_uid, kPodUid);
  // "pod<uid>" means a pod only below kubepods.
  expect_none("/other/pod" + kPodUid + "/" + kA);
}

TEST(ContainerId, PodWithoutContainerIsNotAContainer) {
  expect_none("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUidUnderscored + ".slice");
  expect_none("/kubepods/burstable/pod" + kPodUid);
  expect_none("/kubepods.slice");
}

TEST(ContainerId, MalformedPodUidGivesNoPod) {
  // The container is still found; the pod part does not parse.
  auto r = ref_of("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podXYZ.slice/cri-containerd-" + kA +
                  ".scope");
  EXPECT_EQ(r.id, kA);
  EXPECT_EQ(r.pod_uid, "");
  r = ref_of("/kubepods.slice/kubepods-burstable-pod.slice/cri-containerd-" + kA + ".scope");
  EXPECT_EQ(r.pod_uid, "");
}

TEST(ContainerId, WrongLengthOrCase) {
  expect_none("/system.slice/docker-" + kA.substr(0, 63) + ".scope");
  expect_none("/system.slice/docker-" + kA + "0.scope");
  expect_none("/system.slice/docker-" + kA.substr(0, 12) + ".scope");
  std::string upper = kA;
  for (char& c : upper)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  expect_none("/system.slice/docker-" + upper + ".scope");
  expect_none("/docker/" + upper);
  expect_none("/docker/" + kA.substr(0, 63));
}

TEST(ContainerId, ScopeSuffixRules) {
  // Docker and containerd are only ever named as systemd scopes.
  expect_none("/system.slice/docker-" + kA);
  expect_none("/system.slice/cri-containerd-" + kA);
  expect_none("/system.slice/docker-" + kA + ".scopex");
  expect_none("/system.slice/docker-" + kA + ".slice");
  expect_none("/system.slice/docker-" + kA + ".scope.d");
  expect_none("/system.slice/docker.service");
  expect_none("/system.slice/docker-.scope");
  expect_none("/system.slice/xdocker-" + kA + ".scope");
}

TEST(ContainerId, HostPathsAreNotContainers) {
  expect_none("");
  expect_none("/");
  expect_none("//");
  expect_none("/init.scope");
  expect_none("/user.slice/user-1000.slice/session-3.scope");
  expect_none("/system.slice/containerd.service");
  expect_none("/docker");
}

TEST(ContainerId, SlashesAndCgroupLen) {
  std::string base = "/system.slice/docker-" + kA + ".scope";
  auto m = match_container("//system.slice//docker-" + kA + ".scope/");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ref.id, kA);
  m = match_container(base + "/init.scope");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->cgroup_len, base.size());
  m = match_container("/docker/" + kA + "/docker/" + kB + "/x");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->cgroup_len, std::string("/docker/" + kA + "/docker/" + kB).size());
}

// --- ContainerRegistry, without a cgroup filesystem: ids it has been told about ---

constexpr const char* kNoMount = "/nonexistent-cgscope-unit-mount";

TEST(ContainerRegistry, MkdirThenLookup) {
  ContainerRegistry reg(kNoMount, 4026531836u);
  reg.on_cgroup_mkdir(1001, "/system.slice/docker-" + kA + ".scope");
  reg.on_cgroup_mkdir(1002, "/system.slice/docker-" + kA + ".scope/init.scope");
  reg.on_cgroup_mkdir(1003, "/system.slice/cron.service");
  const ContainerInfo* c = reg.lookup(1001);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->id, kA);
  EXPECT_EQ(c->runtime, "docker");
  EXPECT_EQ(c->cgroup_path, "/system.slice/docker-" + kA + ".scope");
  EXPECT_FALSE(c->by_pidns);
  const ContainerInfo* child = reg.lookup(1002);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->id, kA);
  EXPECT_EQ(child->cgroup_path, c->cgroup_path);  // the container's cgroup, not the child's
  EXPECT_EQ(reg.lookup(1003), nullptr);
  // Same pointer on every hit: the hot path does not copy.
  EXPECT_EQ(reg.lookup(1001), c);
}

TEST(ContainerRegistry, UnknownIdResolvesOnceToHost) {
  ContainerRegistry reg(kNoMount, 4026531836u);
  EXPECT_EQ(reg.lookup(424242), nullptr);
  EXPECT_EQ(reg.cached(), 1u);
  EXPECT_EQ(reg.lookup(424242), nullptr);
  EXPECT_EQ(reg.cached(), 1u);
  // A later mkdir event for it overrides the cached "host".
  reg.on_cgroup_mkdir(424242, "kubepods/burstable/pod" + kPodUid + "/" + kB);  // no leading '/'
  const ContainerInfo* c = reg.lookup(424242);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->runtime, "kubepods");
  EXPECT_EQ(c->pod_uid, kPodUid);
  EXPECT_EQ(c->cgroup_path, "/kubepods/burstable/pod" + kPodUid + "/" + kB);
}

TEST(ContainerRegistry, CgroupsOfExactAndPrefix) {
  ContainerRegistry reg(kNoMount, 1);
  reg.on_cgroup_mkdir(10, "/system.slice/docker-" + kA + ".scope");
  reg.on_cgroup_mkdir(11, "/system.slice/docker-" + kA + ".scope/init.scope");
  reg.on_cgroup_mkdir(20, "/system.slice/docker-" + kB + ".scope");
  reg.on_cgroup_mkdir(30, "/system.slice/cron.service");
  EXPECT_EQ(reg.cgroups_of(kA), (std::vector<uint64_t>{10, 11}));
  EXPECT_EQ(reg.cgroups_of(kA.substr(0, 12)), (std::vector<uint64_t>{10, 11}));
  EXPECT_EQ(reg.cgroups_of(kB.substr(0, 20)), (std::vector<uint64_t>{20}));
  EXPECT_TRUE(reg.cgroups_of(kA.substr(0, 11)).empty());  // too short for a prefix
  EXPECT_TRUE(reg.cgroups_of("").empty());
  EXPECT_TRUE(reg.cgroups_of("ffffffffffffffff").empty());
  EXPECT_TRUE(reg.cgroups_of(kA + "0").empty());

  // Two containers share a 12-char prefix: ambiguous, nothing is picked.
  std::string a2 = kA.substr(0, 12) + kB.substr(12);
  reg.on_cgroup_mkdir(40, "/system.slice/docker-" + a2 + ".scope");
  EXPECT_TRUE(reg.cgroups_of(kA.substr(0, 12)).empty());
  EXPECT_EQ(reg.container_ids_matching(kA.substr(0, 12)), (std::vector<std::string>{kA, a2}));
  EXPECT_EQ(reg.cgroups_of(kA.substr(0, 13)), (std::vector<uint64_t>{10, 11}));
}

TEST(ContainerRegistry, ListIsOnePerContainer) {
  ContainerRegistry reg(kNoMount, 1);
  reg.on_cgroup_mkdir(10, "/system.slice/docker-" + kA + ".scope");
  reg.on_cgroup_mkdir(11, "/system.slice/docker-" + kA + ".scope/init.scope");
  reg.on_cgroup_mkdir(20, "/machine.slice/libpod-" + kB + ".scope");
  reg.on_cgroup_mkdir(30, "/system.slice/cron.service");
  auto l = reg.list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].id, kB);  // sorted by id
  EXPECT_EQ(l[0].runtime, "podman");
  EXPECT_EQ(l[1].id, kA);
  EXPECT_EQ(l[1].cgroup_path, "/system.slice/docker-" + kA + ".scope");
}

TEST(ContainerRegistry, ProcessEventsLeaveKnownAnswersAlone) {
  const uint32_t host = 4026531836u;
  ContainerRegistry reg(kNoMount, host);
  reg.on_cgroup_mkdir(10, "/system.slice/docker-" + kA + ".scope");
  reg.on_cgroup_mkdir(30, "/system.slice/cron.service");
  // Host pid namespace, or level 0: never a container.
  reg.on_process(30, host, 1);
  reg.on_process(30, host + 1, 0);
  EXPECT_EQ(reg.lookup(30), nullptr);
  // A runtime container stays the runtime's, whatever its pid namespace.
  reg.on_process(10, host + 1, 1);
  const ContainerInfo* c = reg.lookup(10);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->runtime, "docker");
  EXPECT_FALSE(c->by_pidns);
}

}  // namespace
}  // namespace cgscope::trace
