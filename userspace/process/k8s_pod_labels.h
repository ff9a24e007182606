// Pod labels from the Kubernetes API server (`--k8s-api`), for when the node's log tree has
// named the pod (k8s_identity.h) and a service account is mounted. Only labels: the names
// never depend on the API server. Fetches run on a worker thread so an event never waits on
// the network: the first events of a pod go out without labels, later ones carry them.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace rein::process {

using PodLabels = std::map<std::string, std::string>;

struct K8sApiConfig {
  std::string host;  // KUBERNETES_SERVICE_HOST (a name or an address)
  std::string port;  // KUBERNETES_SERVICE_PORT
  std::string token;
  std::string ca_file;
};

// From KUBERNETES_SERVICE_HOST/PORT and the service account directory (token, ca.crt).
Result<K8sApiConfig> k8s_api_config_from_env(
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// metadata.labels of a Pod object, bounded; nullopt when it is not a Pod or its metadata.uid
// is not `uid` (the pod was replaced by one of the same name: its labels are not ours).
std::optional<PodLabels> parse_pod_labels(std::string_view json, std::string_view uid);

// GET `path` over TLS verified against the CA file, bearer token; the body of a 200 reply.
Result<std::string> k8s_api_get(const K8sApiConfig& cfg, const std::string& path);

class K8sLabelFetcher {
 public:
  struct Options {
    size_t cache_max = 1024;  // pods
    size_t queue_max = 64;    // fetches waiting
    uint64_t ttl_s = 300;     // labels change rarely; re-fetched after this
    uint64_t retry_s = 30;    // after a failed fetch
  };
  explicit K8sLabelFetcher(K8sApiConfig cfg) : K8sLabelFetcher(std::move(cfg), Options{}) {}
  K8sLabelFetcher(K8sApiConfig cfg, Options opts);
  ~K8sLabelFetcher();
  K8sLabelFetcher(const K8sLabelFetcher&) = delete;
  K8sLabelFetcher& operator=(const K8sLabelFetcher&) = delete;

  // The labels fetched for this pod, or null (a fetch is queued if none is due).
  std::shared_ptr<const PodLabels> labels(const std::string& ns, const std::string& pod,
                                          const std::string& uid);
  uint64_t fetch_errors() const;

 private:
  struct Entry {
    std::shared_ptr<const PodLabels> labels;
    uint64_t next_fetch_s = 0;  // monotonic seconds
    bool queued = false;
  };
  struct Job {
    std::string ns, pod, uid;
  };
  void run();

  K8sApiConfig cfg_;
  Options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Entry> cache_;  // by pod UID
  std::deque<std::string> cache_order_;
  std::deque<Job> queue_;
  bool stop_ = false;
  uint64_t fetch_errors_ = 0;
  std::string last_error_;  // worker thread only
  std::thread worker_;
};

}  // namespace rein::process
