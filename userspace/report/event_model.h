// The model behind `rein report`: the sensor's JSON lines folded into what an incident
// report shows (summary totals, timeline, process tree, LLM calls, files, policy actions,
// config mutations), filtered by agent and time. Every string comes from the event stream,
// which an agent controls (paths, argv, models): the model stores them length-capped and
// keeps at most a fixed number of rows per section, counting the rest, so memory and the
// rendered page stay bounded whatever the input. Totals are computed over every matching
// event, not only over the rows kept. Pure: no I/O except read_events_file().
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rein::report {

struct Limits {
  size_t max_line_bytes = size_t{1} << 20;  // longer lines are skipped: not a sensor line
  size_t max_rows = 500;                    // rows kept per table section
  size_t max_timeline = 2000;
  size_t max_processes = 2000;
  size_t max_agents = 1000;
  size_t max_string = 300;      // bytes of one displayed string (path, model, ...)
  size_t max_args = 600;        // bytes of a joined argv
  size_t max_diff = 16 * 1024;  // bytes of one config diff
  size_t max_distinct = 10000;  // distinct hosts / changed paths counted exactly
};

// A --from/--to bound: an absolute time, or a time of day (HH:MM[:SS], UTC) resolved
// against the date of the first timed event in the stream.
struct TimeBound {
  std::optional<int64_t> abs_ns;
  std::optional<int64_t> day_offset_ns;  // since 00:00 UTC
};

// RFC 3339 ("2026-11-30T14:02:00Z", "+01:00" offsets, fraction optional) or HH:MM[:SS].
Result<TimeBound> parse_time_bound(std::string_view text);
// RFC 3339 -> Unix epoch nanoseconds.
std::optional<int64_t> parse_rfc3339(std::string_view text);

struct Filter {
  std::string agent;  // agent id or name; empty: every agent (and sensor-wide events)
  std::optional<TimeBound> from, to;  // [from, to)
};

// Cuts `s` to at most `max` bytes on a UTF-8 boundary, marking the cut with "…".
std::string clip(std::string_view s, size_t max);

struct AgentRow {
  std::string id, name;
  std::optional<int64_t> root_pid;
  int64_t first_ns = 0, last_ns = 0;
  uint64_t events = 0, calls = 0, call_errors = 0, file_events = 0, denials = 0;
  int64_t input_tokens = 0, output_tokens = 0;
  double cost_usd = 0;
};

struct TimelineRow {
  int64_t time_ns = 0;
  std::string type, agent, what;  // `what`: one line built from the event's fields
  std::optional<int64_t> pid;
  bool alert = false;  // denial, kill, error: highlighted
};

struct ProcessNode {
  int64_t pid = 0;
  std::optional<int64_t> ppid;
  std::string agent, exe, args, comm;
  int64_t first_ns = 0;
  std::optional<int64_t> exit_code, signal;
  bool exited = false;
};

struct CallRow {
  int64_t time_ns = 0;
  std::string agent, provider, api, host, model, request_model, response_id, error, key;
  std::optional<int64_t> pid, status, input_tokens, output_tokens, cache_read_tokens,
      cache_creation_tokens, reasoning_tokens;
  std::optional<double> cost_usd, latency_ms, ttft_ms;
  bool stream = false;
};

struct FileRow {
  int64_t time_ns = 0;
  std::string agent, op, path, new_path, error;
  std::optional<int64_t> pid, bytes;
};

struct NetRow {
  int64_t time_ns = 0;
  std::string agent, kind, target, hostname, error;  // kind: connect, dns, tls, unobserved
  std::optional<int64_t> pid;
};

struct PolicyRow {
  int64_t time_ns = 0;
  std::string agent, rule, kind, action, outcome, matched, detail, hold_id;
  std::optional<int64_t> pid;
};

struct ConfigMutationRow {
  int64_t time_ns = 0;
  std::string agent, path, cls, op, before_sha256, after_sha256, diff;
  std::optional<int64_t> pid, before_size, after_size;
  bool diff_truncated = false;
  // caused_by: the LLM call that preceded the change (and the tool call naming the path)
  std::string cause_response_id, cause_model, cause_time, cause_tool_call_id;
};

template <typename Row>
struct Section {
  std::vector<Row> rows;  // the first rows seen, at most the section's limit
  uint64_t total = 0;     // every matching event, kept or not
  uint64_t not_shown() const { return total - rows.size(); }
};

struct Summary {
  int64_t first_ns = 0, last_ns = 0;  // 0: no timed event
  uint64_t events = 0;
  uint64_t calls = 0, call_errors = 0, unpriced_calls = 0, unobserved = 0;
  int64_t input_tokens = 0, output_tokens = 0, cache_read_tokens = 0, cache_creation_tokens = 0,
          reasoning_tokens = 0;
  double cost_usd = 0;
  uint64_t file_events = 0, process_execs = 0;
  uint64_t policy_actions = 0, denials = 0, kills = 0, holds = 0, holds_approved = 0,
           holds_denied = 0, budget_actions = 0, config_mutations = 0;
  std::set<std::string> files_changed, hosts;  // at most Limits::max_distinct each
  bool files_capped = false, hosts_capped = false;
  // Records the sensor says it lost (kernel drop_* counters, highest seen): a report over
  // a stream with drops is incomplete, and says so.
  int64_t sensor_drops = 0;
  std::string sensor_state;  // last sensor.health state in range
};

struct InputStats {
  uint64_t lines = 0, blank = 0, bad = 0, oversized = 0, filtered_out = 0, untimed = 0;
};

class EventModel {
 public:
  explicit EventModel(Filter filter = {}, Limits limits = {});
  EventModel(const EventModel&) = delete;
  EventModel& operator=(const EventModel&) = delete;
  ~EventModel();

  // One line of JSONL (newline optional). Never throws: bad lines are counted.
  void feed(std::string_view line);
  // The reader dropped a line longer than Limits::max_line_bytes.
  void note_oversized() {
    ++stats_.lines;
    ++stats_.oversized;
  }
  // Sorts rows by time (held connects and summaries come out of order in the stream).
  void finish();

  const Summary& summary() const { return summary_; }
  const InputStats& stats() const { return stats_; }
  const Filter& filter() const { return filter_; }
  const Limits& limits() const { return limits_; }
  // The filter's bounds once resolved (time-of-day bounds need the first event's date).
  std::optional<int64_t> from_ns() const { return from_ns_; }
  std::optional<int64_t> to_ns() const { return to_ns_; }

  const std::vector<AgentRow>& agents() const { return agents_; }
  uint64_t agents_not_shown() const { return agents_dropped_; }
  const Section<TimelineRow>& timeline() const { return timeline_; }
  const Section<ProcessNode>& processes() const { return processes_; }
  const Section<CallRow>& calls() const { return calls_; }
  const Section<FileRow>& files() const { return files_; }
  const Section<NetRow>& network() const { return net_; }
  const Section<PolicyRow>& policy() const { return policy_; }
  const Section<ConfigMutationRow>& config_mutations() const { return config_; }

 private:
  struct Impl;
  bool in_range(int64_t t);
  AgentRow* agent_row(std::string_view id, std::string_view name, std::optional<int64_t> root);
  void add_host(std::string host);

  Filter filter_;
  Limits limits_;
  std::unique_ptr<Impl> impl_;
  std::optional<int64_t> from_ns_, to_ns_;
  bool bounds_resolved_ = false;
  Summary summary_;
  InputStats stats_;
  std::vector<AgentRow> agents_;
  std::map<std::string, size_t> agent_index_;
  uint64_t agents_dropped_ = 0;
  Section<TimelineRow> timeline_;
  Section<ProcessNode> processes_;
  std::map<int64_t, size_t> process_index_;  // pid -> newest node for that pid
  Section<CallRow> calls_;
  Section<FileRow> files_;
  Section<NetRow> net_;
  Section<PolicyRow> policy_;
  Section<ConfigMutationRow> config_;
};

// Reads a JSONL file into `model` line by line with bounded memory (an overlong line is
// skipped and counted, never buffered whole). Errors: the file cannot be opened or read.
Result<void> read_events_file(const std::string& path, EventModel& model);

}  // namespace rein::report
