#include "process/k8s_identity.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline/event_builder.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using rein::process::k8s_identity_from_cgroup;
using rein::process::K8sIdentityResolver;
using rein::process::parse_container_log_link;
using rein::process::parse_pod_log_dir;

const std::string kId1 = "3f1c2b9d8e7a6f5041322314a5b6c7d8e9f00112233445566778899aabbccdde";
const std::string kId2 = "aa00bb11cc22dd33ee44ff5566778899aabbccddeeff00112233445566778899";
const std::string kId3 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kUid = "0f3e2d1c-4b5a-6978-8a9b-0c1d2e3f4a5b";
const std::string kUid2 = "11111111-2222-3333-4444-555555555555";

std::string underscored(std::string s) {
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

std::string systemd_path(const std::string& uid, const std::string& leaf) {
  return "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscored(uid) +
         ".slice/" + leaf;
}

// kubelet's log tree under a temp root; the clock is the test's.
class K8sTree : public ::testing::Test {
 protected:
  void pod(const std::string& ns, const std::string& name, const std::string& uid,
           std::initializer_list<std::string> containers) {
    const std::string dir = root() + "/pods/" + ns + "_" + name + "_" + uid;
    for (const auto& c : containers) {
      fs::create_directories(dir + "/" + c);
      std::ofstream(dir + "/" + c + "/0.log") << "x\n";
    }
    fs::create_directories(dir);
  }
  void link(const std::string& ns, const std::string& name, const std::string& uid,
            const std::string& container, const std::string& id) {
    fs::create_directories(root() + "/containers");
    fs::create_symlink(
        root() + "/pods/" + ns + "_" + name + "_" + uid + "/" + container + "/0.log",
        root() + "/containers/" + name + "_" + ns + "_" + container + "-" + id + ".log");
  }
  K8sIdentityResolver resolver(size_t cache_max = 1024) {
    K8sIdentityResolver::Options o;
    o.log_root = root();
    o.cache_max = cache_max;
    o.now_ns = [this] { return now_; };
    return K8sIdentityResolver(std::move(o));
  }
  const std::string& root() const { return tmp_.path(); }

  rein::testutil::TempDir tmp_{"rein_k8s"};
  uint64_t now_ = 1'000'000'000'000;
};

TEST(K8sIdentityCgroup, EachLayoutGivesThePodUid) {
  const std::string paths[] = {
      // systemd driver, containerd / CRI-O / docker
      systemd_path(kUid, "cri-containerd-" + kId1 + ".scope"),
      systemd_path(kUid, "crio-" + kId1 + ".scope"),
      systemd_path(kUid, "docker-" + kId1 + ".scope"),
      "/kubepods.slice/kubepods-pod" + underscored(kUid) + ".slice/cri-containerd-" + kId1 +
          ".scope",  // guaranteed QoS: no QoS slice
      // cgroupfs driver
      "/kubepods/burstable/pod" + kUid + "/" + kId1,
      "/kubepods/pod" + kUid + "/" + kId1,
      "/kubepods/besteffort/pod" + kUid + "/" + kId1,
  };
  for (const auto& p : paths) {
    auto id = k8s_identity_from_cgroup(p);
    ASSERT_TRUE(id) << p;
    EXPECT_EQ(id->pod_uid, kUid) << p;
    EXPECT_FALSE(id->ns || id->pod || id->container) << p;
  }
}

TEST(K8sIdentityCgroup, NotAPod) {
  EXPECT_FALSE(k8s_identity_from_cgroup(""));
  EXPECT_FALSE(k8s_identity_from_cgroup("/"));
  EXPECT_FALSE(k8s_identity_from_cgroup("/system.slice/docker-" + kId1 + ".scope"));
  EXPECT_FALSE(k8s_identity_from_cgroup("/user.slice/pod" + kUid + "/" + kId1));
  EXPECT_FALSE(k8s_identity_from_cgroup("/kubepods.slice/kubepods-burstable.slice"));
  EXPECT_FALSE(k8s_identity_from_cgroup("/kubepods/burstable/podNOTAUID/" + kId1));
  EXPECT_FALSE(k8s_identity_from_cgroup("/kubepods/burstable/pod" + kUid + "x/" + kId1));
}

TEST(K8sIdentityNames, PodLogDir) {
  auto d = parse_pod_log_dir("kube-system_coredns-5d78c9869d-abcde_" + kUid);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->ns, "kube-system");
  EXPECT_EQ(d->pod, "coredns-5d78c9869d-abcde");
  EXPECT_EQ(d->uid, kUid);
  auto s = parse_pod_log_dir("default_etcd-node.example.com_0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(s);  // static pod: dotted name, hash UID
  EXPECT_EQ(s->pod, "etcd-node.example.com");
}

TEST(K8sIdentityNames, MalformedPodLogDirs) {
  for (const std::string& bad : std::vector<std::string>{
           "", "ns_pod", "ns_pod_" + kUid + "_x", "_pod_" + kUid, "ns__" + kUid, "NS_pod_" + kUid,
           "ns_pod_" + underscored(kUid), "ns_pod_" + kUid.substr(1), "ns-_pod_" + kUid,
           "ns_pod-_" + kUid, "ns_.pod_" + kUid, "ns_po..d_" + kUid, "ns_pod/x_" + kUid,
           std::string(64, 'a') + "_pod_" + kUid}) {
    EXPECT_FALSE(parse_pod_log_dir(bad)) << bad;
  }
}

TEST(K8sIdentityNames, ContainerLogLink) {
  auto l = parse_container_log_link("web-0_shop_side-car-" + kId1 + ".log");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->pod, "web-0");
  EXPECT_EQ(l->ns, "shop");
  EXPECT_EQ(l->container, "side-car");
  EXPECT_EQ(l->container_id, kId1);
}

TEST(K8sIdentityNames, MalformedContainerLogLinks) {
  for (const std::string& bad : std::vector<std::string>{
           "web-0_shop_app-" + kId1, "web-0_shop_app-" + kId1 + ".txt",
           "web-0_shop_app" + kId1 + ".log", "web-0_shop_-" + kId1 + ".log",
           "web-0_shop_app-" + kId1.substr(1) + ".log",
           "web-0_shop_app-" + std::string(63, 'a') + "G.log", "web-0_app-" + kId1 + ".log",
           "web-0_sh_op_app-" + kId1 + ".log", "web-0_shop_App-" + kId1 + ".log",
           "web-0_shop_app--" + kId1 + ".log", ".log"}) {
    EXPECT_FALSE(parse_container_log_link(bad)) << bad;
  }
}

TEST_F(K8sTree, ContainerNamedByItsLink) {
  pod("shop", "web-0", kUid, {"app", "sidecar"});
  link("shop", "web-0", kUid, "app", kId1);
  link("shop", "web-0", kUid, "sidecar", kId2);
  auto r = resolver();
  auto a = r.resolve(systemd_path(kUid, "cri-containerd-" + kId1 + ".scope"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->pod_uid, kUid);
  EXPECT_EQ(a->ns, "shop");
  EXPECT_EQ(a->pod, "web-0");
  EXPECT_EQ(a->container, "app");
  auto b = r.resolve("/kubepods/burstable/pod" + kUid + "/" + kId2);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->container, "sidecar");
  EXPECT_EQ(r.pod_loads(), 1u);  // one read for both containers
}

TEST_F(K8sTree, SeveralContainersWithoutLinkLeaveContainerOut) {
  pod("shop", "web-0", kUid, {"app", "sidecar"});
  auto r = resolver();
  auto a = r.resolve(systemd_path(kUid, "cri-containerd-" + kId1 + ".scope"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ns, "shop");
  EXPECT_EQ(a->pod, "web-0");
  EXPECT_FALSE(a->container);
}

TEST_F(K8sTree, SingleContainerDirWithoutLinks) {
  pod("batch", "job-x7", kUid, {"main"});
  auto r = resolver();
  auto a = r.resolve("/kubepods/besteffort/pod" + kUid + "/" + kId1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->container, "main");
  // The pod's own cgroup (no container id) names no container.
  auto p = r.resolve("/kubepods/besteffort/pod" + kUid);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pod, "job-x7");
  EXPECT_FALSE(p->container);
}

TEST_F(K8sTree, IdNotInLinksIsNotGuessedEvenWithOneDir) {
  pod("batch", "job-x7", kUid, {"main"});
  link("batch", "job-x7", kUid, "main", kId1);
  auto r = resolver();
  auto sandbox = r.resolve(systemd_path(kUid, "cri-containerd-" + kId3 + ".scope"));
  ASSERT_TRUE(sandbox);
  EXPECT_EQ(sandbox->pod, "job-x7");
  EXPECT_FALSE(sandbox->container);  // the pause container has no logs
}

TEST_F(K8sTree, LinkOfAnEarlierPodOfTheSameNameIsIgnored) {
  pod("shop", "web-0", kUid, {"app", "sidecar"});
  pod("shop", "web-0", kUid2, {"app", "sidecar"});
  link("shop", "web-0", kUid2, "app", kId1);  // the link names the other pod's directory
  auto r = resolver();
  auto a = r.resolve(systemd_path(kUid, "cri-containerd-" + kId1 + ".scope"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->pod, "web-0");
  EXPECT_FALSE(a->container);
  auto b = r.resolve(systemd_path(kUid2, "cri-containerd-" + kId1 + ".scope"));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->container, "app");
}

TEST_F(K8sTree, NoLogTreeLeavesOnlyTheUid) {
  auto r = resolver();
  auto a = r.resolve(systemd_path(kUid, "cri-containerd-" + kId1 + ".scope"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->pod_uid, kUid);
  EXPECT_FALSE(a->ns || a->pod || a->container);
}

TEST_F(K8sTree, MalformedDirectoriesAreSkipped) {
  fs::create_directories(root() + "/pods/Bad_Name_" + kUid + "/app");
  fs::create_directories(root() + "/pods/x_y_z_" + kUid + "/app");
  auto r = resolver();
  auto a = r.resolve(systemd_path(kUid, "cri-containerd-" + kId1 + ".scope"));
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->pod);
  // A symlinked pod directory is not kubelet's and is not followed.
  fs::create_directories(root() + "/elsewhere/app");
  fs::create_directory_symlink(root() + "/elsewhere", root() + "/pods/ns_pod_" + kUid);
  now_ += 10'000'000'000;
  auto b = r.resolve(systemd_path(kUid, "cri-containerd-" + kId1 + ".scope"));
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->pod);
}

TEST_F(K8sTree, MissingPodIsRetriedAfterTheNegativeTtl) {
  auto r = resolver();
  const std::string path = systemd_path(kUid, "cri-containerd-" + kId1 + ".scope");
  EXPECT_FALSE(r.resolve(path)->pod);
  pod("shop", "web-0", kUid, {"app"});
  now_ += 1'000'000'000;  // within the negative TTL: the answer sticks
  EXPECT_FALSE(r.resolve(path)->pod);
  now_ += 5'000'000'000;
  EXPECT_EQ(r.resolve(path)->pod, "web-0");
}

TEST_F(K8sTree, NewContainerIdIsReadAfterARestart) {
  pod("shop", "web-0", kUid, {"app", "sidecar"});
  link("shop", "web-0", kUid, "app", kId1);
  auto r = resolver();
  EXPECT_EQ(r.resolve(systemd_path(kUid, "crio-" + kId1 + ".scope"))->container, "app");
  link("shop", "web-0", kUid, "sidecar", kId2);
  EXPECT_FALSE(r.resolve(systemd_path(kUid, "crio-" + kId2 + ".scope"))->container);
  now_ += 5'000'000'000;
  EXPECT_EQ(r.resolve(systemd_path(kUid, "crio-" + kId2 + ".scope"))->container, "sidecar");
}

TEST_F(K8sTree, CacheIsBounded) {
  std::vector<std::string> uids;
  for (int i = 0; i < 20; ++i) {
    char uid[37];
    std::snprintf(uid, sizeof(uid), "%08x-0000-0000-0000-000000000000", i);
    uids.emplace_back(uid);
    pod("ns", "p" + std::to_string(i), uid, {"c"});
  }
  auto r = resolver(4);
  for (int i = 0; i < 20; ++i) {
    auto a = r.resolve("/kubepods/pod" + uids[i] + "/" + kId1);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->pod, "p" + std::to_string(i));
    EXPECT_LE(r.cache_size(), 4u);
  }
  // Evicted pods are read again and still right; cached ones are not.
  const uint64_t loads = r.pod_loads();
  EXPECT_EQ(r.resolve("/kubepods/pod" + uids[19] + "/" + kId1)->pod, "p19");
  EXPECT_EQ(r.pod_loads(), loads);
  EXPECT_EQ(r.resolve("/kubepods/pod" + uids[0] + "/" + kId1)->pod, "p0");
  EXPECT_EQ(r.pod_loads(), loads + 1);
}

TEST_F(K8sTree, ExpiredEntryIsReloaded) {
  pod("shop", "web-0", kUid, {"app"});
  auto r = resolver();
  const std::string path = "/kubepods/pod" + kUid + "/" + kId1;
  r.resolve(path);
  r.resolve(path);
  EXPECT_EQ(r.pod_loads(), 1u);
  now_ += 61'000'000'000;
  EXPECT_EQ(r.resolve(path)->pod, "web-0");
  EXPECT_EQ(r.pod_loads(), 2u);
}

// The process block of every event: the identity as an object, only established fields.
TEST_F(K8sTree, EventProcessBlock) {
  pod("shop", "web-0", kUid, {"app", "sidecar"});
  link("shop", "web-0", kUid, "app", kId1);
  auto r = resolver();
  rein::pipeline::Clock clock;
  rein::pipeline::EventBuilder b(clock);
  auto line = [&](const std::string& cgroup) {
    rein::pipeline::ProcessView v;
    v.pid = 42;
    v.cgroup = cgroup;
    b.begin("process.exec", 0, v, nullptr);
    return b.finish();
  };
  const std::string in_pod = systemd_path(kUid, "cri-containerd-" + kId1 + ".scope");
  const std::string full =
      R"("k8s":{"namespace":"shop","pod":"web-0","pod_uid":")" + kUid + R"(","container":"app"}})";
  const std::string uid_only = R"("k8s":{"pod_uid":")" + kUid + R"("}})";
  // Without a resolver (replay), only what the path says.
  EXPECT_NE(line(in_pod).find(uid_only), std::string::npos) << line(in_pod);
  EXPECT_NE(line("/system.slice/docker-" + kId1 + ".scope").find(R"("k8s":null})"),
            std::string::npos);
  b.set_k8s_identity(&r);
  EXPECT_NE(line(in_pod).find(full), std::string::npos) << line(in_pod);
  EXPECT_NE(
      line("/kubepods/pod" + kUid2 + "/" + kId2).find(R"("k8s":{"pod_uid":")" + kUid2 + R"("}})"),
      std::string::npos);
  EXPECT_NE(line("/").find(R"("k8s":null})"), std::string::npos);
}

}  // namespace

namespace {

using rein::process::k8s_api_config_from_env;
using rein::process::parse_pod_labels;

const char* kPodJson = R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0",
  "namespace":"shop","uid":"0f3e2d1c-4b5a-6978-8a9b-0c1d2e3f4a5b",
  "labels":{"app":"web","app.kubernetes.io/part-of":"shop","n":7}},"spec":{}})";

TEST(K8sPodLabels, LabelsOfThePodWithThatUid) {
  auto l = parse_pod_labels(kPodJson, kUid);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->size(), 2u);  // the non-string value is not a label
  EXPECT_EQ(l->at("app"), "web");
  EXPECT_EQ(l->at("app.kubernetes.io/part-of"), "shop");
}

TEST(K8sPodLabels, AnotherPodOfTheSameNameOrNotAPod) {
  EXPECT_FALSE(parse_pod_labels(kPodJson, kUid2));
  EXPECT_FALSE(parse_pod_labels(R"({"kind":"Status","metadata":{"uid":")" + kUid + R"("}})", kUid));
  EXPECT_FALSE(parse_pod_labels("not json", kUid));
  EXPECT_FALSE(parse_pod_labels(R"({"kind":"Pod"})", kUid));
  auto none = parse_pod_labels(R"({"kind":"Pod","metadata":{"uid":")" + kUid + R"("}})", kUid);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(K8sPodLabels, Bounded) {
  std::string json = R"({"kind":"Pod","metadata":{"uid":")" + kUid + R"(","labels":{)";
  for (int i = 0; i < 200; ++i) json += "\"k" + std::to_string(i) + "\":\"v\",";
  json += "\"long\":\"" + std::string(64, 'x') + "\"}}}";
  auto l = parse_pod_labels(json, kUid);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->size(), 64u);
  EXPECT_FALSE(l->count("long"));
}

TEST(K8sPodLabels, ConfigNeedsEnvironmentTokenAndCa) {
  rein::testutil::TempDir sa("rein_sa");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  EXPECT_FALSE(k8s_api_config_from_env(sa.path()));
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  EXPECT_FALSE(k8s_api_config_from_env(sa.path()));  // no token
  std::ofstream(sa.path() + "/token") << "tok123\n";
  EXPECT_FALSE(k8s_api_config_from_env(sa.path()));  // no CA
  std::ofstream(sa.path() + "/ca.crt") << "x";
  auto cfg = k8s_api_config_from_env(sa.path());
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->host, "10.96.0.1");
  EXPECT_EQ(cfg->port, "443");
  EXPECT_EQ(cfg->token, "tok123");
  EXPECT_EQ(cfg->ca_file, sa.path() + "/ca.crt");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
}

}  // namespace
