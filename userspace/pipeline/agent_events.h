// The JSON of agent.discovered (a running process found by its LLM traffic) and
// agent.summary (an agent session's LLM totals when its root process exits).
#pragma once
#include <cstdint>
#include <string>

#include "pipeline/event_builder.h"
#include "pipeline/llm_event.h"

namespace rein::pipeline {

// flags: REIN_F_DISC_* of the exec record, which say what gave the process away.
const std::string& discovered_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                    const process::Agent* agent, uint32_t flags,
                                    const std::string& cwd);
const std::string& agent_summary_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                       const process::Agent* agent, const AgentTotals& totals);

}  // namespace rein::pipeline
