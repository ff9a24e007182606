// `rein run --capture DIR`: opens the capture writer from the run's options and writes the
// first Context entry (versions, clock offset, command line, host).
#pragma once
#include <memory>

#include "capture/capture_writer.h"
#include "cli/run_command.h"
#include "common/result.h"

namespace rein::cli {

// The key lives in --state-dir (created there on first use). Errors name the flag.
Result<std::unique_ptr<capture::CaptureWriter>> open_run_capture(const RunOptions& o);

// What the capture starts with; the pipeline's own Context (policy, selectors, /proc
// snapshot) may follow.
capture::Entry basic_context(const RunOptions& o);

}  // namespace rein::cli
