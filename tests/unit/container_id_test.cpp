#include "process/container_id.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using rein::process::container_id_from_cgroup;
using rein::process::pod_uid_from_cgroup;

// Two distinct, realistic-looking ids.
const std::string kId1 = "3f1c2b9d8e7a6f5041322314a5b6c7d8e9f00112233445566778899aabbccdde";
const std::string kId2 = "aa00bb11cc22dd33ee44ff5566778899aabbccddeeff00112233445566778899";
const std::string kPod = "0f3e2d1c-4b5a-6978-8a9b-0c1d2e3f4a5b";
std::string pod_systemd() {  // the same UID as the systemd driver spells it
  std::string s = kPod;
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

TEST(ProcessContainerId, IdsAreWellFormedFixtures) {
  ASSERT_EQ(kId1.size(), 64u);
  ASSERT_EQ(kId2.size(), 64u);
}

TEST(ProcessContainerId, DockerCgroupfs) {
  EXPECT_EQ(container_id_from_cgroup("/docker/" + kId1), kId1);
}

TEST(ProcessContainerId, DockerSystemd) {
  EXPECT_EQ(container_id_from_cgroup("/system.slice/docker-" + kId1 + ".scope"), kId1);
}

TEST(ProcessContainerId, ContainerdCriSystemd) {
  const std::string path = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                           pod_systemd() + ".slice/cri-containerd-" + kId1 + ".scope";
  EXPECT_EQ(container_id_from_cgroup(path), kId1);
  EXPECT_EQ(pod_uid_from_cgroup(path), kPod);
}

TEST(ProcessContainerId, KubepodsCgroupfs) {
  const std::string path = "/kubepods/besteffort/pod" + kPod + "/" + kId1;
  EXPECT_EQ(container_id_from_cgroup(path), kId1);
  EXPECT_EQ(pod_uid_from_cgroup(path), kPod);
  // Guaranteed QoS has no QoS level in the path.
  EXPECT_EQ(container_id_from_cgroup("/kubepods/pod" + kPod + "/" + kId2), kId2);
  EXPECT_EQ(pod_uid_from_cgroup("/kubepods/pod" + kPod + "/" + kId2), kPod);
}

TEST(ProcessContainerId, KubepodsGuaranteedSystemd) {
  const std::string path =
      "/kubepods.slice/kubepods-pod" + pod_systemd() + ".slice/crio-" + kId2 + ".scope";
  EXPECT_EQ(container_id_from_cgroup(path), kId2);
  EXPECT_EQ(pod_uid_from_cgroup(path), kPod);
}

TEST(ProcessContainerId, ContainerdCgroupfsNamespace) {
  EXPECT_EQ(container_id_from_cgroup("/k8s.io/" + kId1), kId1);
}

TEST(ProcessContainerId, CriO) {
  EXPECT_EQ(container_id_from_cgroup("/machine.slice/crio-" + kId1 + ".scope"), kId1);
  EXPECT_EQ(container_id_from_cgroup("/kubepods/burstable/pod" + kPod + "/crio-" + kId1), kId1);
}

TEST(ProcessContainerId, CriOConmonIsNotAContainer) {
  EXPECT_EQ(container_id_from_cgroup("/machine.slice/crio-conmon-" + kId1 + ".scope"),
            std::nullopt);
  // Conmon sits next to the container under the pod: only the real container counts.
  const std::string pod = "/kubepods.slice/kubepods-pod" + pod_systemd() + ".slice/";
  EXPECT_EQ(container_id_from_cgroup(pod + "crio-conmon-" + kId1 + ".scope"), std::nullopt);
}

TEST(ProcessContainerId, Podman) {
  EXPECT_EQ(container_id_from_cgroup("/machine.slice/libpod-" + kId1 + ".scope"), kId1);
  // cgroup v2 podman puts the payload in a "container" child of the scope.
  EXPECT_EQ(container_id_from_cgroup("/machine.slice/libpod-" + kId1 + ".scope/container"), kId1);
  EXPECT_EQ(container_id_from_cgroup("/libpod_parent/libpod-" + kId1), kId1);
  EXPECT_EQ(container_id_from_cgroup("/libpod_parent/" + kId1), kId1);
  EXPECT_EQ(container_id_from_cgroup("/machine.slice/libpod-conmon-" + kId1 + ".scope"),
            std::nullopt);
  // Rootless podman lives in the user's slice.
  EXPECT_EQ(container_id_from_cgroup("/user.slice/user-1000.slice/user@1000.service/user.slice/"
                                     "libpod-" + kId2 + ".scope"),
            kId2);
}

TEST(ProcessContainerId, InnermostWins) {
  EXPECT_EQ(container_id_from_cgroup("/docker/" + kId1 + "/docker/" + kId2), kId2);
  EXPECT_EQ(container_id_from_cgroup("/system.slice/docker-" + kId1 + ".scope/docker/" + kId2),
            kId2);
  EXPECT_EQ(container_id_from_cgroup("/docker/" + kId1 + "/libpod-" + kId2 + ".scope"), kId2);
  // A non-id child below a container keeps the container's id.
  EXPECT_EQ(container_id_from_cgroup("/docker/" + kId1 + "/init.scope"), kId1);
}

TEST(ProcessContainerId, HostProcessesHaveNone) {
  EXPECT_EQ(container_id_from_cgroup("/"), std::nullopt);
  EXPECT_EQ(container_id_from_cgroup(""), std::nullopt);
  EXPECT_EQ(container_id_from_cgroup("/user.slice/user-1000.slice/session-2.scope"),
            std::nullopt);
  EXPECT_EQ(container_id_from_cgroup("/system.slice/docker.service"), std::nullopt);
  EXPECT_EQ(container_id_from_cgroup("/docker"), std::nullopt);
}

TEST(ProcessContainerId, LookalikesRejected) {
  const std::string id63 = kId1.substr(0, 63);
  const std::string id65 = kId1 + "0";
  std::string upper = kId1;
  upper[10] = 'A';
  std::string nonhex = kId1;
  nonhex[0] = 'g';
  for (const std::string& bad : {id63, id65, upper, nonhex}) {
    EXPECT_EQ(container_id_from_cgroup("/docker/" + bad), std::nullopt) << bad;
    EXPECT_EQ(container_id_from_cgroup("/system.slice/docker-" + bad + ".scope"), std::nullopt)
        << bad;
    EXPECT_EQ(container_id_from_cgroup("/cri-containerd-" + bad + ".scope"), std::nullopt) << bad;
  }
  // Right length, wrong surroundings.
  EXPECT_EQ(container_id_from_cgroup("/system.slice/dockerd-" + kId1 + ".scope"), std::nullopt);
  EXPECT_EQ(container_id_from_cgroup("/system.slice/docker_" + kId1 + ".scope"), std::nullopt);
  EXPECT_EQ(container_id_from_cgroup("/system.slice/docker-" + kId1 + ".scopex"), std::nullopt);
  EXPECT_EQ(container_id_from_cgroup("/system.slice/x-docker-" + kId1 + ".scope"), std::nullopt);
  EXPECT_EQ(container_id_from_cgroup("/system.slice/docker-" + kId1 + "-x.scope"), std::nullopt);
}

TEST(ProcessContainerId, BareIdNeedsRuntimeParent) {
  EXPECT_EQ(container_id_from_cgroup("/" + kId1), std::nullopt);
  EXPECT_EQ(container_id_from_cgroup("/user.slice/" + kId1), std::nullopt);
  // The parent must come before the id, not after it.
  EXPECT_EQ(container_id_from_cgroup("/" + kId1 + "/docker"), std::nullopt);
  // "dockerx" is not "docker".
  EXPECT_EQ(container_id_from_cgroup("/dockerx/" + kId1), std::nullopt);
}

TEST(ProcessContainerId, ToleratesExtraSlashes) {
  EXPECT_EQ(container_id_from_cgroup("//docker//" + kId1 + "/"), kId1);
}

TEST(ProcessPodUid, StaticPodHashUid) {
  const std::string hash = "5e3a1c9b0d2f4e6a8b7c9d0e1f2a3b4c";
  EXPECT_EQ(pod_uid_from_cgroup("/kubepods/burstable/pod" + hash + "/" + kId1), hash);
  EXPECT_EQ(pod_uid_from_cgroup("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                                hash + ".slice"),
            hash);
}

TEST(ProcessPodUid, NotKubepods) {
  EXPECT_EQ(pod_uid_from_cgroup("/docker/" + kId1), std::nullopt);
  EXPECT_EQ(pod_uid_from_cgroup("/pod" + kPod + "/" + kId1), std::nullopt);  // no kubepods parent
  EXPECT_EQ(pod_uid_from_cgroup("/system.slice/pod" + kPod + ".slice"), std::nullopt);
  EXPECT_EQ(pod_uid_from_cgroup("/kubepods/burstable"), std::nullopt);
  EXPECT_EQ(pod_uid_from_cgroup("/kubepods.slice/kubepods-burstable.slice"), std::nullopt);
}

TEST(ProcessPodUid, MalformedUidsRejected) {
  EXPECT_EQ(pod_uid_from_cgroup("/kubepods/pod" + kPod.substr(1)), std::nullopt);
  std::string shifted = kPod;
  std::swap(shifted[8], shifted[9]);  // dash in the wrong place
  EXPECT_EQ(pod_uid_from_cgroup("/kubepods/pod" + shifted), std::nullopt);
  std::string nonhex = kPod;
  nonhex[0] = 'z';
  EXPECT_EQ(pod_uid_from_cgroup("/kubepods/pod" + nonhex), std::nullopt);
  EXPECT_EQ(pod_uid_from_cgroup("/kubepods.slice/kubepods-pod" + pod_systemd() + ".slicex"),
            std::nullopt);
}

}  // namespace
