// Between the pipeline's file and process events and config.mutation: a new agent's config
// files are read as the "before" of its changes; a change to a file with a config class,
// by a tracked agent, becomes a config.mutation event. Live reads go through the state's
// journal so replay gives back what the capture saw.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "decode/records.h"
#include "pipeline/config_mutations.h"
#include "pipeline/event_builder.h"
#include "pipeline/pipeline_state.h"

namespace rein::pipeline {

class ConfigBridge {
 public:
  using Emit = std::function<void(const std::string&)>;
  ConfigBridge(ConfigMutationTracker& config, PipelineState& state, EventBuilder& builder,
               const Clock& clock, Emit emit)
      : config_(config), state_(state), builder_(builder), clock_(clock), emit_(std::move(emit)) {}

  // An agent session began at ts with its root process (v): existing, adopted from /proc.
  void on_agent_start(uint32_t pid, uint64_t ts, bool existing, const ProcessView& v);
  // A file change; old_path: the name before a rename.
  void on_change(const decode::Header& h, std::string_view op, const std::string& path,
                 const std::string& old_path);

 private:
  ConfigMutationTracker& config_;
  PipelineState& state_;
  EventBuilder& builder_;
  const Clock& clock_;
  Emit emit_;
};

}  // namespace rein::pipeline
