// Adoption at start-up: processes already running when the sensor starts are read from
// /proc, and those matching the selectors become agents, with every descendant tracked.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/result.h"
#include "pipeline/pipeline_state.h"
#include "process/proc_source.h"

namespace rein::pipeline {

// How the pipeline asks the kernel to track a process it selected in user space.
using TrackFn = std::function<Result<void>(uint32_t tgid, uint32_t agent_root, uint32_t selector,
                                           uint64_t start_ns)>;

// Seeds s.table from proc, starts an agent session for each matching root and tracks
// its members (track may be empty: replay); adopted(pid, now, flags) for each member tracked,
// flags REIN_F_NEW_AGENT on the root. Returns how many were adopted.
size_t adopt_from_proc(
    PipelineState& s, const TrackFn& track, const process::ProcSource& proc,
    const std::function<void(uint32_t pid, uint64_t now, uint32_t flags)>& adopted);

}  // namespace rein::pipeline
