#include "pipeline/decision_events.h"

#include "policy/detections.h"

namespace rein::pipeline {

const std::string& policy_action_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                       const process::Agent* agent, const enforce::Decision& d) {
  auto& w = b.begin("policy.action", ts, v, agent);
  w.key("rule");
  w.string(d.rule);
  w.key("kind");
  w.string(d.kind);
  w.key("action");
  w.string(d.action);
  w.key("outcome");
  w.string(d.outcome);
  w.key("matched");
  w.string(d.what);
  w.key("detail");
  w.string(d.detail);
  w.key("hold_id");
  if (d.hold_id) w.number(d.hold_id); else w.null();
  return b.finish();
}

const std::string& detection_event(EventBuilder& b, const ProcessView& v,
                                   const process::Agent* agent, const detect::Detection& d) {
  auto& w = b.begin("detect." + d.kind, d.ts_ns, v, agent);
  w.key("summary");
  w.string(d.summary);
  w.key("action");
  w.string(policy::detection_action_name(d.action));
  w.key("cost_usd");
  w.number(d.cost_usd);
  w.key("tokens");
  w.number(d.tokens);
  w.key("evidence");
  w.raw(d.evidence);
  return b.finish();
}

}  // namespace rein::pipeline
