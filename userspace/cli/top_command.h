// `rein top`: a live terminal view of agents, following the file `rein run --output` writes.
#pragma once
#include <string>

namespace rein::cli {

struct TopOptions {
  std::string file = "/var/log/rein/events.jsonl";
  double interval_s = 1.0;
  bool once = false;  // one plain frame (no escapes) on stdout, then exit
};

// 0 on a clean exit (q, SIGINT, SIGTERM); 1 with a clear message when the file cannot be read
// or the terminal cannot be set up.
int top(const TopOptions& opts);

}  // namespace rein::cli
