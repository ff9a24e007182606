// The JSON of sensor.health: kernel counters (by name), the pipeline's counters and bounds,
// the decode budget, detection state, and each agent's LLM totals so far.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detect/detection_engine.h"
#include "pipeline/config_mutations.h"
#include "pipeline/event_builder.h"
#include "pipeline/llm_stage.h"
#include "pipeline/pipeline_state.h"

namespace rein::pipeline {

// What the report needs from outside PipelineState.
struct HealthSources {
  uint64_t path_resolve_failed = 0;
  uint64_t output_write_errors = 0;
  uint64_t ledger_write_errors = 0;
  ConfigMutationTracker& config;
  const LlmStageStats& llm;
  uint64_t tls_watch_evicted = 0;
  const detect::DetectionEngine* detect = nullptr;  // null: no detection fields
};

// self: the sensor's own process; extra: appended at the end (the daemon's own blocks).
const std::string& health_event(EventBuilder& b, uint64_t now, const ProcessView& self,
                                std::string_view state,
                                const std::vector<std::pair<std::string, uint64_t>>& kernel,
                                const PipelineState& s, const HealthSources& src,
                                const std::function<void(sinks::JsonWriter&)>& extra);

}  // namespace rein::pipeline
