// The JSON of process.exec, process.fork and process.exit (design.md contract).
#pragma once
#include <cstdint>
#include <string>

#include "pipeline/event_builder.h"

namespace rein::pipeline {

// existing: adopted from /proc rather than seen at its exec; flags: REIN_F_* of the record.
const std::string& exec_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                              const process::Agent* agent, bool existing, uint32_t flags);
const std::string& fork_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                              const process::Agent* agent, uint32_t ppid);
// status: the wait status the kernel reported.
const std::string& exit_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                              const process::Agent* agent, uint32_t status);

}  // namespace rein::pipeline
