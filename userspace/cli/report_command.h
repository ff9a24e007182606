// `rein report`: one self-contained HTML incident report from the sensor's JSON lines.
#pragma once
#include <string>

namespace rein::cli {

struct ReportOptions {
  std::string input;     // events file (JSONL) of `rein run --output`, or a capture directory
  std::string output;    // report file (created 0600); "-": stdout
  std::string agent;     // agent id or name; empty: all
  std::string from, to;  // RFC 3339 or HH:MM[:SS]; empty: unbounded
  std::string state_dir = "/var/lib/rein";  // capture key, when `input` is a capture directory
};

// Writes the report; a clear message and 1 when the input is missing or unreadable, an
// option is bad or nothing matches the filters. Invalid lines are skipped and counted.
int report(const ReportOptions& opts);

}  // namespace rein::cli
