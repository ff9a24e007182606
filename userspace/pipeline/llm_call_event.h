// The JSON of llm.call: the call's own fields (llm_event.h), then how it was seen: TLS
// source, protocol and peer.
#pragma once
#include <string>

#include "llm/llm_call.h"
#include "pipeline/event_builder.h"
#include "pipeline/llm_stage.h"

namespace rein::pipeline {

// hostname: learned for the peer address (null: none).
const std::string& llm_call_event(EventBuilder& b, const ProcessView& v,
                                  const process::Agent* agent, const CallContext& ctx,
                                  const llm::LlmCall& call, const std::string* hostname);

}  // namespace rein::pipeline
