#include "pipeline/observed_llm_call.h"

#include "process/container_id.h"

namespace rein::pipeline {

void tell_llm_observer(LlmCallObserver& observer, const Clock& clock, EventBuilder& builder,
                       const ProcessView& v, const process::Agent* agent, const CallContext& ctx,
                       const llm::LlmCall& call) {
  const auto time = clock.rfc3339(ctx.ts_ns);
  const auto container = process::container_id_from_cgroup(v.cgroup);
  const auto k8s = builder.k8s_identity(v.cgroup);
  ObservedLlmCall o;
  o.boot_ns = ctx.ts_ns;
  o.time = time;
  o.agent = agent;
  o.pid = ctx.tgid;
  if (v.info) o.exe = v.info->exe;
  if (container) o.container_id = *container;
  if (k8s) o.k8s_pod_uid = k8s->pod_uid;
  if (k8s && k8s->ns) o.k8s_namespace = *k8s->ns;
  if (k8s && k8s->pod) o.k8s_pod = *k8s->pod;
  if (k8s && k8s->container) o.k8s_container = *k8s->container;
  o.call = &call;
  observer.on_llm_call(o);
}

}  // namespace rein::pipeline
