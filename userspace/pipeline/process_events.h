// The JSON of process.exec, process.fork, process.controlled and process.exit (design.md
// contract).
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
// A running process a tracked process took control of (ptrace, process_vm_writev), which the
// kernel now tracks as part of that agent. flags: REIN_F_CONTROLLED* of the exec record;
// controller: the controlling process's tgid.
const std::string& controlled_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                    const process::Agent* agent, uint32_t flags,
                                    uint32_t controller, const std::string& cwd);
// status: the wait status the kernel reported.
const std::string& exit_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                              const process::Agent* agent, uint32_t status);

}  // namespace rein::pipeline
