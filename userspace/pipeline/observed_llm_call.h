// Tells an LlmCallObserver (the usage ledger) about an llm.call: the same call and identity
// the event carries (time, agent, process, container, pod).
#pragma once
#include "llm/llm_call.h"
#include "pipeline/event_builder.h"
#include "pipeline/llm_call_observer.h"
#include "pipeline/llm_stage.h"

namespace rein::pipeline {

void tell_llm_observer(LlmCallObserver& observer, const Clock& clock, EventBuilder& builder,
                       const ProcessView& v, const process::Agent* agent, const CallContext& ctx,
                       const llm::LlmCall& call);

}  // namespace rein::pipeline
