// `rein replay DIR`: the capture's inputs through the same pipeline, offline; prints the
// lines the live sensor printed (pipeline/capture_replay.h).
#pragma once
#include <string>

namespace rein::cli {

struct ReplayCommandOptions {
  std::string dir;
  std::string from, to;  // RFC 3339 or HH:MM[:SS] (UTC, the capture's first day)
  std::string agent;     // agent id or name
  std::string policy;    // replace the captured policy: what would it have done
  std::string output;    // "" or "-": stdout
  std::string state_dir = "/var/lib/rein";  // the capture's host key (HMACs)
  bool no_detections = false;  // hidden (benchmarks): the pipeline without the detection engine
  std::string dump_entries;  // hidden (tests): every decompressed entry, serialized, to this file
};

int replay(const ReplayCommandOptions& o);

}  // namespace rein::cli
