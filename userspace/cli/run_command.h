// `rein run`: load, attach, select agents, stream events until a signal or --duration.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rein::cli {

struct RunOptions {
  std::vector<std::string> exe, cmdline, cgroup, pid, script;
  std::string output;
  double health_interval_s = 10.0;
  double duration_s = 0;  // 0: until SIGINT/SIGTERM
  // Ring sizes, MiB: each counts twice in RSS (mapped twice for wrap-around). 4 + 2 keep the
  // fleet and LLM benchmarks at 0 drops (docs/operations.md "Memory").
  unsigned ring_mib = 4;          // payload ring
  unsigned control_ring_mib = 4;  // control records (hidden option); 2 dropped 1.6% at 162k events/s
  unsigned agent_data_mibps = 16;   // per-agent payload budget (MiB/s; 0: unlimited)
  unsigned agent_data_burst_mib = 64;
  unsigned decode_mib = 256;         // user-space decoding memory budget
  bool no_default_agents = false;
  std::vector<std::string> dns_resolvers;  // trusted besides /etc/resolv.conf's nameservers
  unsigned track_quota = 16384;            // tracked processes per agent (hidden option)
  bool no_autodiscover = false;  // LLM-shaped requests make their sender an agent
  bool no_plain_http = false;    // plain HTTP of tracked processes (local model servers)
  bool no_detections = false;    // run no detectors (detect.* events, secret scanning)
  std::string prices;            // price table (default: the shipped data/prices.json)
  std::string prices_override;   // user prices merged on top
  std::string state_dir = "/var/lib/rein";  // fingerprint key
  std::string policy;                        // policy file (YAML); empty: observe only
  std::string control_socket = "/run/rein/control.sock";
  // "process": TLS hooks only in tracked processes (untracked ones pay nothing); "system":
  // libssl/GnuTLS/node hooked for every process, which also discovers agents that talk to
  // an LLM by IP address (no server name) and catches their first call, at a cost to every
  // TLS user on the host. docs/operations.md has the figures.
  std::string tls_hooks = "process";
  // Usage ledger (SQLite) keeping every llm.call; empty: none. Rows older than
  // ledger_retention_days are deleted at start and hourly (0: kept forever).
  std::string ledger;
  unsigned ledger_retention_days = 90;
  // Prometheus endpoint (IPv4:PORT or [IPv6]:PORT); empty: off.
  std::string metrics_addr;
  // Distinct agent names and models that get their own series; the rest are "other".
  unsigned metrics_max_label_values = 50;
  // Where kubelet keeps pods/ and containers/ (pod and container names; hidden option).
  std::string k8s_log_root = "/var/log";
  bool k8s_api = false;  // pod labels from the API server (service account mounted)
  std::string k8s_sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";  // hidden option
  // Capture journal (docs/capture.md); empty: none. Segments rotate at capture_segment_mib
  // or capture_segment_age; the oldest go beyond capture_max_mib in total or capture_keep
  // files.
  std::string capture_dir;
  unsigned capture_max_mib = 1024;
  unsigned capture_keep = 64;
  unsigned capture_segment_mib = 64;
  std::string capture_segment_age = "1h";
  uint64_t capture_segment_bytes = 0;  // hidden test option: overrides capture_segment_mib
  std::vector<std::string> argv;       // the command line, recorded in the capture
};

// What the shipped default policy selects when no selector is given: executables by name
// (kind Exe) and node CLIs by their npm package (kind Script), with agent names.
struct DefaultAgent {
  bool script;
  std::string value, name;
};
const std::vector<DefaultAgent>& default_agents();
// LLM API host names whose TLS server name makes a process an agent ("*." = any name below).
const std::vector<std::string>& default_llm_hosts();


int run(const RunOptions& opts);

// `rein policy check FILE`: every problem as FILE:LINE:COL: FIELD: REASON; exit 1 if any.
int policy_check(const std::string& file);
// `rein holds` / `rein approve ID` / `rein deny ID` against a running sensor.
int control(const std::string& socket, const std::string& request);

}  // namespace rein::cli
