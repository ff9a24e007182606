// Who else hears about emitted events besides the line sink (metrics): the type of every
// line, and the typed data behind the ones a counter needs. Called on the pipeline's
// thread, right after the line went to the sink.
#pragma once
#include <string_view>

#include "enforce/enforcer.h"
#include "llm/llm_call.h"
#include "process/agent_registry.h"

namespace rein::pipeline {

class EventObserver {
 public:
  virtual ~EventObserver() = default;
  virtual void on_event(std::string_view type) {}
  // agent: null when the call's process belongs to no agent.
  virtual void on_llm_call(const process::Agent* agent, const llm::LlmCall& call) {}
  virtual void on_policy_action(const enforce::Decision& d) {}
  // An agent session began / its root process exited.
  virtual void on_agent_started(const process::Agent& a) {}
  virtual void on_agent_ended(const process::Agent& a) {}
};

// The "type" of an event line as EventBuilder writes it ({"type":"...",...}); empty if the
// line does not start that way.
std::string_view event_type_of(std::string_view line);

}  // namespace rein::pipeline
