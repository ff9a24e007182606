// `rein run`: load, attach, select agents, stream events until a signal or --duration.
#pragma once
#include <string>
#include <vector>

namespace rein::cli {

struct RunOptions {
  std::vector<std::string> exe, cmdline, cgroup, pid;
  std::string output;
  double health_interval_s = 10.0;
  double duration_s = 0;  // 0: until SIGINT/SIGTERM
  unsigned ring_mib = 16;
  bool no_default_agents = false;
};

// The agents the shipped default policy selects when no selector is given.
const std::vector<std::string>& default_agent_exes();

int run(const RunOptions& opts);

}  // namespace rein::cli
