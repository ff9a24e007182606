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
  bool no_autodiscover = false;  // LLM-shaped requests make their sender an agent
  bool no_plain_http = false;    // plain HTTP of tracked processes (local model servers)
  std::string prices;            // price table (default: the shipped data/prices.json)
  std::string prices_override;   // user prices merged on top
  std::string state_dir = "/var/lib/rein";  // fingerprint key
  std::string policy;                        // policy file (YAML); empty: observe only
  std::string control_socket = "/run/rein/control.sock";
};

// The agents the shipped default policy selects when no selector is given.
const std::vector<std::string>& default_agent_exes();

int run(const RunOptions& opts);

// `rein policy check FILE`: every problem as FILE:LINE:COL: FIELD: REASON; exit 1 if any.
int policy_check(const std::string& file);
// `rein holds` / `rein approve ID` / `rein deny ID` against a running sensor.
int control(const std::string& socket, const std::string& request);

}  // namespace rein::cli
