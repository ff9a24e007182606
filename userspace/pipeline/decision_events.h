// The JSON of policy.action (an enforcer decision) and detect.<kind> (a detector's finding).
#pragma once
#include <cstdint>
#include <string>

#include "detect/facts.h"
#include "enforce/enforcer.h"
#include "pipeline/event_builder.h"

namespace rein::pipeline {

const std::string& policy_action_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                       const process::Agent* agent, const enforce::Decision& d);
const std::string& detection_event(EventBuilder& b, const ProcessView& v,
                                   const process::Agent* agent, const detect::Detection& d);

}  // namespace rein::pipeline
