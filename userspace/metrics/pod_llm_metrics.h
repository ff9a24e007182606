// LLM cost, calls and tokens by Kubernetes pod: the series a platform team charges back by
// (docs/operations.md "Metrics"). Fed the pipeline's llm.call observations, which carry the
// pod identity resolved from the caller's cgroup (process/k8s_identity.h); calls from
// processes outside pods add nothing here (rein_llm_* has them all).
//
// Labels are OTel's k8s.namespace.name, k8s.pod.name, k8s.container.name in Prometheus form
// (not `namespace`/`pod`, which Prometheus's Kubernetes discovery gives the sensor's own pod).
// Each admits the registry's bounded number of values (first seen; later ones are "other");
// a name kubelet's log tree did not give is "unknown".
#pragma once
#include "metrics/metrics_registry.h"
#include "pipeline/llm_call_observer.h"

namespace rein::metrics {

inline constexpr const char* kPodNamespaceLabel = "k8s_namespace_name";
inline constexpr const char* kPodNameLabel = "k8s_pod_name";
inline constexpr const char* kPodContainerLabel = "k8s_container_name";

class PodLlmMetrics : public pipeline::LlmCallObserver {
 public:
  // Declares its families in `r`, which must outlive this.
  explicit PodLlmMetrics(Registry& r);
  void on_llm_call(const pipeline::ObservedLlmCall& o) override;

 private:
  Registry& r_;
  Registry::FamilyId cost_, calls_, tokens_;
};

}  // namespace rein::metrics
