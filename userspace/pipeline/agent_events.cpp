#include "pipeline/agent_events.h"

#include "rein/abi/events.h"

namespace rein::pipeline {

const std::string& discovered_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                    const process::Agent* agent, uint32_t flags,
                                    const std::string& cwd) {
  auto& w = b.begin("agent.discovered", ts, v, agent);
  w.key("reason");
  w.string((flags & REIN_F_DISC_SNI)     ? "TLS server name of an LLM API"
           : (flags & REIN_F_DISC_PLAIN) ? "plain-HTTP LLM API request"
                                         : "LLM API request seen by the TLS hooks");
  w.key("cwd");
  w.string(cwd);
  return b.finish();
}

const std::string& agent_summary_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                       const process::Agent* agent, const AgentTotals& totals) {
  auto& w = b.begin("agent.summary", ts, v, agent);
  totals.write(w);
  return b.finish();
}

}  // namespace rein::pipeline
