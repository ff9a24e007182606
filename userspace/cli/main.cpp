// The `rein` command line. Exceptions stop here: CLI11 parse errors and anything thrown
// by a library become one message and an exit code.
#include <cmath>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>

#include "cli/run_command.h"
#include "cli/report_command.h"
#include "cli/top_command.h"
#include "cli/replay_command.h"
#include "cli/usage_command.h"
#include "cli/verify_command.h"
#include "common/crypto_init.h"

namespace {
// A Range check lets NaN through (every comparison with it is false): --duration nan would
// run forever, --health-interval nan would stop the periodic health events.
const CLI::Validator kFinite(
    [](std::string& text) -> std::string {
      double v = 0;
      if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v)) return "not a finite number: " + text;
      return {};
    },
    "FINITE");
// An empty path would silently mean "none" (--policy "" ran with no policy).
const CLI::Validator kNonEmpty([](std::string& text) -> std::string { return text.empty() ? "empty path" : ""; },
                               "PATH");
}  // namespace

// Repeatable options take each value as given (allow_extra_args(false)): by default CLI11
// reads "[a,b]" as a list, so a regex such as --agent-cmdline '[0-9]' lost its brackets.
int main(int argc, char** argv) {
  rein::init_crypto();
  CLI::App app{"rein: eBPF sensor for AI-agent processes"};
  app.require_subcommand(1);
  rein::cli::RunOptions ro;
  auto* run = app.add_subcommand("run", "Run the sensor in the foreground, JSON lines out");
  run->add_option("--agent-exe", ro.exe, "Track processes exec'ing this binary name or path (repeatable)")
      ->allow_extra_args(false);
  run->add_option("--agent-cmdline", ro.cmdline, "Track processes whose argv matches this ECMAScript regex (repeatable)")
      ->allow_extra_args(false);
  run->add_option("--agent-cgroup", ro.cgroup, "Track processes in this cgroup v2 path or below (repeatable)")
      ->allow_extra_args(false);
  run->add_option("--agent-script", ro.script, "Track interpreters running this script name or npm package, e.g. @google/gemini-cli (repeatable)")
      ->allow_extra_args(false);
  run->add_option("--agent-pid", ro.pid, "Track this running process and its descendants (repeatable)")
      ->allow_extra_args(false);
  run->add_option("-o,--output", ro.output, "Write events here instead of stdout (created 0600)");
  run->add_option("--health-interval", ro.health_interval_s, "Seconds between sensor.health events (0: only start/stop)")
      ->check(kFinite & CLI::Range(0.0, 86400.0));
  run->add_option("--duration", ro.duration_s, "Stop after this many seconds (0: until SIGINT/SIGTERM)")
      ->check(kFinite & CLI::Range(0.0, 1e9));
  run->add_option("--ring-mib", ro.ring_mib, "Payload ring buffer size in MiB (power of two)")
      ->check(CLI::IsMember({1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u, 256u}));
  run->add_option("--control-ring-mib", ro.control_ring_mib,
                  "Control record ring buffer size in MiB (power of two)")
      ->check(CLI::IsMember({1u, 2u, 4u, 8u, 16u, 32u, 64u}))
      ->group("");  // for sizing experiments (docs/operations.md "Memory")
  run->add_option("--agent-data-mibps", ro.agent_data_mibps,
                  "Payload each agent may have captured per second, MiB (0: unlimited)")
      ->check(CLI::Range(0u, 4096u));
  run->add_option("--agent-data-burst-mib", ro.agent_data_burst_mib,
                  "Payload burst an agent may build up, MiB")
      ->check(CLI::Range(1u, 4096u));
  run->add_option("--decode-mib", ro.decode_mib,
                  "Memory for decoding captured traffic (bodies, messages), MiB")
      ->check(CLI::Range(16u, 65536u));
  run->add_flag("--no-default-agents", ro.no_default_agents,
                "With no selector, track nothing instead of the default agent list");
  run->add_flag("--no-autodiscover", ro.no_autodiscover,
                "Do not make processes that send LLM API requests into agents");
  run->add_flag("--no-plain-http", ro.no_plain_http,
                "Do not decode plain HTTP of tracked processes (local model servers)");
  run->add_flag("--no-detections", ro.no_detections,
                "Run no detectors: no detect.* events, no secret scanning of request bodies");
  run->add_option("--tls-hooks", ro.tls_hooks,
                  "process: hook TLS only in tracked processes (default); system: hook libssl, "
                  "GnuTLS and node for every process (discovers IP-only clients, costs everyone)")
      ->check(CLI::IsMember({"process", "system"}));
  run->add_option("--prices", ro.prices, "Price table (JSON); default: the shipped one");
  run->add_option("--prices-override", ro.prices_override, "Prices merged over the table (JSON)");
  run->add_option("--state-dir", ro.state_dir, "Directory for the fingerprint key (created 0700)");
  run->add_option("--policy", ro.policy, "Policy file (YAML, apiVersion rein/v1); reloaded on SIGHUP or change")
      ->check(kNonEmpty);
  run->add_option("--dns-resolver", ro.dns_resolvers,
                  "Also trust DNS answers from this resolver address (repeatable; the host's "
                  "/etc/resolv.conf nameservers are trusted already)")
      ->allow_extra_args(false);
  run->add_option("--track-quota", ro.track_quota,
                  "Processes each agent may have tracked (its share of the kernel table)")
      ->check(CLI::Range(1u, 65536u))
      ->group("");
  run->add_option("--k8s-log-root", ro.k8s_log_root,
                  "Directory holding kubelet's pods/ and containers/ log trees (pod names)")
      ->group("");
  run->add_flag("--k8s-api", ro.k8s_api,
                "Add pod labels from the Kubernetes API server (needs a mounted service account "
                "allowed to get pods)");
  run->add_option("--k8s-sa-dir", ro.k8s_sa_dir, "Service account directory (token, ca.crt)")
      ->group("");
  run->add_option("--metrics-addr", ro.metrics_addr,
                  "Serve Prometheus metrics at http://ADDR:PORT/metrics and /healthz "
                  "(IPv4:PORT or [IPv6]:PORT; default: off)");
  run->add_option("--metrics-max-label-values", ro.metrics_max_label_values,
                  "Distinct agent names, models and pod names with their own metric series; the rest "
                  "are counted as \"other\"")
      ->check(CLI::Range(1u, 10000u));
  run->add_option("--control-socket", ro.control_socket, "Unix socket for holds/approve/deny (root only)");
  run->add_option("--ledger", ro.ledger,
                  "Keep every llm.call in this SQLite usage ledger (created 0600; `rein usage` "
                  "reads it), e.g. /var/lib/rein/usage.db");
  run->add_option("--ledger-retention", ro.ledger_retention_days,
                  "Days of usage the ledger keeps (0: forever)")
      ->check(CLI::Range(0u, 36500u));
  run->add_option("--capture", ro.capture_dir,
                  "Also record the pipeline's inputs in this directory (created 0700, files "
                  "0600; `rein verify`, `rein replay`)");
  run->add_option("--capture-max-mib", ro.capture_max_mib,
                  "Capture retention: oldest segments are deleted beyond this many MiB")
      ->check(CLI::Range(1u, 16u << 20));
  run->add_option("--capture-keep", ro.capture_keep, "Capture retention: segment files kept")
      ->check(CLI::Range(1u, 1000000u));
  run->add_option("--capture-segment-mib", ro.capture_segment_mib,
                  "Start a new capture segment at this size, MiB")
      ->check(CLI::Range(1u, 4096u));
  run->add_option("--capture-segment-age", ro.capture_segment_age,
                  "Start a new capture segment when one is this old (90s, 30m, 1h, 1d)");
  run->add_option("--capture-segment-bytes", ro.capture_segment_bytes)
      ->check(CLI::Range(uint64_t(1024), uint64_t(1) << 40))
      ->group("");  // tests: many small segments
  std::string socket = "/run/rein/control.sock";
  auto* policy_cmd = app.add_subcommand("policy", "Policy files");
  std::string policy_file;
  auto* check = policy_cmd->add_subcommand("check", "Report every problem in a policy file as FILE:LINE:COL");
  check->add_option("file", policy_file, "Policy file")->required();
  policy_cmd->require_subcommand(1);
  auto* holds = app.add_subcommand("holds", "List actions paused for approval");
  std::string hold_id;
  auto* approve = app.add_subcommand("approve", "Resume a paused action");
  approve->add_option("id", hold_id, "Hold id (from `rein holds`)")->required();
  auto* deny = app.add_subcommand("deny", "Kill the process of a paused action");
  deny->add_option("id", hold_id, "Hold id (from `rein holds`)")->required();
  for (auto* c : {holds, approve, deny}) c->add_option("--socket", socket, "Control socket of the sensor");
  rein::cli::UsageOptions uo;
  auto* usage = app.add_subcommand("usage", "Calls, tokens and cost from the usage ledger");
  usage->add_option("--ledger", uo.ledger, "Usage ledger written by `rein run --ledger`");
  usage->add_option("--by", uo.by, "Group by agent, model, provider, key, pod or day")
      ->check(CLI::IsMember({"agent", "model", "provider", "key", "pod", "day"}));
  usage->add_option("--since", uo.since, "From: 30m, 24h, 7d, 2w back, a date (2026-11-01, UTC) or RFC 3339");
  usage->add_option("--until", uo.until, "Up to (not including), same forms as --since");
  usage->add_option("--format", uo.format, "table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  rein::cli::TopOptions to;
  auto* top = app.add_subcommand("top", "Live view of agents from the sensor's --output file or its control socket");
  top->add_option("--file", to.file, "Events file written by `rein run --output`");
  top->add_option("--socket", to.socket,
                  "Subscribe on the running sensor's control socket instead of reading a file "
                  "(no value: the default socket)")
      ->expected(0, 1)
      ->default_str("/run/rein/control.sock");
  top->add_option("--interval", to.interval_s, "Seconds between redraws")
      ->check(kFinite & CLI::Range(0.05, 3600.0));
  top->add_flag("--once", to.once, "Print one plain frame (no escapes) and exit");
  rein::cli::ReportOptions rpo;
  auto* report = app.add_subcommand("report", "Self-contained HTML incident report from an events file or a capture");
  report->add_option("input", rpo.input,
                     "Events file written by `rein run --output` (JSON lines), or a capture "
                     "directory of `rein run --capture` (replayed first)")
      ->required();
  report->add_option("--state-dir", rpo.state_dir, "Where a capture's host key is (as for `rein run`)");
  report->add_option("-o,--output", rpo.output, "Report file to write (created 0600; - for stdout)")
      ->required();
  report->add_option("--agent", rpo.agent, "Only this agent (its id or name)");
  report->add_option("--from", rpo.from, "From this time: RFC 3339, or HH:MM[:SS] UTC on the first event's day");
  report->add_option("--to", rpo.to, "Up to (not including) this time, same forms as --from");
  rein::cli::VerifyOptions vo;
  auto* verify = app.add_subcommand("verify", "Check a capture directory's HMACs and SHA-256 chain");
  verify->add_option("dir", vo.dir, "Capture directory written by `rein run --capture`")->required();
  verify->add_option("--state-dir", vo.state_dir, "State directory holding capture.key (as given to `rein run`)");
  rein::cli::ReplayCommandOptions rco;
  auto* replay = app.add_subcommand("replay", "Replay a capture through the same pipeline offline");
  replay->add_option("dir", rco.dir, "Capture directory written by `rein run --capture`")->required();
  replay->add_option("--from", rco.from, "From this event time: RFC 3339, or HH:MM[:SS] UTC on the first event's day");
  replay->add_option("--to", rco.to, "Up to this event time, same forms as --from");
  replay->add_option("--agent", rco.agent, "Only lines of this agent (its id or name)");
  replay->add_option("--policy", rco.policy,
                     "Replace the captured policy: policy.action lines say what it would have done "
                     "(\"replay\": true); nothing is acted on");
  replay->add_option("--output", rco.output, "Write lines here (default: stdout)");
  replay->add_option("--state-dir", rco.state_dir, "Where the capture's host key is (as for `rein run`)");
  replay->add_option("--dump-entries", rco.dump_entries, "Tests: decompressed entries to this file")->group("");
  replay->add_flag("--no-detections", rco.no_detections,
                   "Benchmarks: without the detection engine (its share of replay CPU)")->group("");
  auto* version = app.add_subcommand("version", "Print the version");
  try {
    app.parse(argc, argv);
    ro.argv.assign(argv, argv + argc);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc != 0 && verify->parsed() ? 2 : rc;  // verify: 1 means "tampered", not "usage"
  }
  try {
    if (*version) {
      fmt::print("rein {}\n", REIN_VERSION);
      return 0;
    }
    if (*run) return rein::cli::run(ro);
    if (*usage) return rein::cli::usage(uo);
    if (*top) return rein::cli::top(to);
    if (*verify) return rein::cli::verify(vo);
    if (*report) return rein::cli::report(rpo);
    if (*replay) return rein::cli::replay(rco);
    if (*check) return rein::cli::policy_check(policy_file);
    if (*holds) return rein::cli::control(socket, "holds");
    if (*approve) return rein::cli::control(socket, "approve " + hold_id);
    if (*deny) return rein::cli::control(socket, "deny " + hold_id);
  } catch (const std::exception& e) {
    fmt::print(stderr, "rein: {}\n", e.what());
    return 1;
  }
  return 0;
}
