#include "metrics/pod_llm_metrics.h"

#include <string>
#include <utility>

#include "common/secret_redaction.h"
#include "metrics/token_counts.h"

namespace rein::metrics {

namespace {
std::string label(std::string_view v) {
  // Names come from directory names under the log root: DNS labels, but bounded and
  // scrubbed like any label value from outside.
  if (v.empty()) return "unknown";
  return redact_secret_tokens(v.substr(0, 253), RedactionMarker::kPlain);
}
}  // namespace

PodLlmMetrics::PodLlmMetrics(Registry& r) : r_(r) {
  const std::vector<std::string> pod = {kPodNamespaceLabel, kPodNameLabel, kPodContainerLabel};
  cost_ = r_.add(Family{"rein_k8s_llm_cost_usd_total",
                        "Dollars of LLM calls from processes in Kubernetes pods, by pod",
                        Kind::kCounter,
                        pod,
                        {}});
  calls_ = r_.add(Family{"rein_k8s_llm_calls_total",
                         "LLM calls from processes in Kubernetes pods, by pod",
                         Kind::kCounter,
                         pod,
                         {}});
  std::vector<std::string> tok = {"gen_ai_token_type"};
  tok.insert(tok.end(), pod.begin(), pod.end());
  tokens_ = r_.add(Family{"rein_k8s_llm_tokens_total",
                          "Tokens of LLM calls from processes in Kubernetes pods, by pod (as "
                          "rein_llm_tokens_total counts them)",
                          Kind::kCounter,
                          tok,
                          {}});
}

void PodLlmMetrics::on_llm_call(const pipeline::ObservedLlmCall& o) {
  if (o.k8s_pod_uid.empty() || !o.call) return;  // not in a pod
  const std::string ns = label(o.k8s_namespace), pod = label(o.k8s_pod),
                    ctr = label(o.k8s_container);
  const llm::LlmCall& call = *o.call;
  auto whole = r_.batch();
  r_.inc(calls_, {ns, pod, ctr});
  if (call.cost_usd) r_.inc(cost_, {ns, pod, ctr}, *call.cost_usd);
  for_each_token_count(call.usage, [&](const char* kind, int64_t n) {
    r_.inc(tokens_, {kind, ns, pod, ctr}, double(n));
  });
}

}  // namespace rein::metrics
