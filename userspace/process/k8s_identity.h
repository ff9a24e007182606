// Kubernetes identity of a process (namespace, pod, pod UID, container name), resolved on the
// node without the API server: the cgroup path names the pod UID and the container id
// (container_id.h), and kubelet's log tree names the rest:
//   <log root>/pods/<namespace>_<pod>_<uid>/<container>/<n>.log
//   <log root>/containers/<pod>_<namespace>_<container>-<container id>.log -> the file above
// The links are the only place that ties a container id to a container name, so a pod with
// several containers gets its container name only from them. What cannot be established is
// left out, never guessed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "process/k8s_pod_labels.h"

namespace rein::process {

struct K8sIdentity {
  std::string pod_uid;  // always set: the cgroup path names it
  std::optional<std::string> ns, pod, container;
  std::shared_ptr<const PodLabels> labels;  // from the API server (--k8s-api), when fetched
  bool operator==(const K8sIdentity&) const = default;
};

// "<namespace>_<pod>_<uid>", kubelet's name for a pod's log directory. Namespace and pod
// names are DNS names, which cannot hold '_', so the split is unambiguous.
struct PodLogDir {
  std::string ns, pod, uid;
};
std::optional<PodLogDir> parse_pod_log_dir(std::string_view name);

// "<pod>_<namespace>_<container>-<64 hex id>.log", kubelet's links in /var/log/containers.
struct ContainerLogLink {
  std::string pod, ns, container, container_id;
};
std::optional<ContainerLogLink> parse_container_log_link(std::string_view name);

// A container name as kubelet uses it for a directory (a DNS-1123 label).
bool is_k8s_container_name(std::string_view s);

class K8sIdentityResolver {
 public:
  struct Options {
    std::string log_root = "/var/log";
    size_t cache_max = 1024;                   // pods
    uint64_t ttl_ns = 60'000'000'000;          // a pod's containers are re-read after this
    uint64_t negative_ttl_ns = 5'000'000'000;  // "no log dir" / "unknown container" sticks
    uint64_t scan_interval_ns = 200'000'000;   // at most one listing of pods/ per interval
    size_t scan_max_entries = 20000;           // per directory listing
    std::function<uint64_t()> now_ns;          // monotonic clock; tests inject their own
  };

  K8sIdentityResolver() : K8sIdentityResolver(Options{}) {}
  explicit K8sIdentityResolver(Options opts);

  // nullopt when the path names no pod; otherwise at least the pod UID.
  std::optional<K8sIdentity> resolve(std::string_view cgroup_path);
  // Pod labels from the API server for pods the log tree named; null: none asked.
  void set_label_fetcher(K8sLabelFetcher* f) { labels_ = f; }

  size_t cache_size() const { return cache_.size(); }
  uint64_t pod_loads() const { return pod_loads_; }
  uint64_t scans() const { return scans_; }

 private:
  struct Pod {
    bool found = false;  // a log directory exists for the UID
    std::string ns, name, dir;
    std::unordered_map<std::string, std::string> containers;  // container id -> name
    std::vector<std::string> container_dirs;
    uint64_t loaded_ns = 0;
  };

  Pod load(const std::string& uid);
  std::optional<std::string> find_pod_dir(const std::string& uid);
  void scan_pods();
  void read_containers(Pod& pod);
  Pod& cache_put(const std::string& uid, Pod pod);

  Options opts_;
  K8sLabelFetcher* labels_ = nullptr;
  std::unordered_map<std::string, Pod> cache_;
  std::deque<std::string> cache_order_;  // insertion order, for FIFO eviction
  // UID -> directory name, from the last listing of pods/, so a burst of new pods costs one.
  std::unordered_map<std::string, std::string> last_scan_;
  bool scanned_ = false;
  uint64_t last_scan_ns_ = 0;
  uint64_t scans_ = 0;
  uint64_t pod_loads_ = 0;
};

// The identity the cgroup path alone gives (pod UID), for when no resolver is configured.
std::optional<K8sIdentity> k8s_identity_from_cgroup(std::string_view cgroup_path);

}  // namespace rein::process
