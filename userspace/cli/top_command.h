// `rein top`: a live terminal view of agents, following the file `rein run --output` writes
// or a subscription on the running sensor's control socket.
#pragma once
#include <string>

namespace rein::cli {

struct TopOptions {
  std::string file = "/var/log/rein/events.jsonl";
  // Non-empty: subscribe on the running sensor's control socket instead of reading `file`
  // (lines from the moment of the subscription on).
  std::string socket;
  double interval_s = 1.0;
  bool once = false;  // one plain frame (no escapes) on stdout, then exit
};

// 0 on a clean exit (q, SIGINT, SIGTERM); 1 with a clear message when the file cannot be read
// or the terminal cannot be set up.
int top(const TopOptions& opts);

}  // namespace rein::cli
