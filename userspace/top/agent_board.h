// The model behind `rein top`: per-agent totals built from the sensor's JSON lines, one line
// at a time. Pure (no I/O, no clock): time is the events' own `time`, so a replayed file and
// a live one give the same board, and tests need no sleeps.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace rein::top {

// Lines longer than this are skipped: a sensor line is far smaller, a longer one is not ours.
inline constexpr size_t kMaxLineBytes = size_t{1} << 20;
inline constexpr size_t kMaxHostsPerAgent = 1000;
inline constexpr size_t kMaxHoldsPerAgent = 1000;
inline constexpr size_t kRecentRows = 20;
inline constexpr int64_t kRateWindowNs = int64_t{60} * 1000 * 1000 * 1000;

struct CallRow {
  int64_t time_ns = 0;
  std::string model;  // response_model, else request_model, else empty
  std::optional<int64_t> input_tokens, output_tokens;
  std::optional<double> cost_usd, latency_ms;
  std::optional<int64_t> status;
  bool error = false;
};

struct FileRow {
  int64_t time_ns = 0;
  std::string op, path;
};

struct AgentStats {
  std::string id, name;
  std::optional<int64_t> root_pid;
  uint64_t calls = 0, errors = 0;
  int64_t input_tokens = 0, output_tokens = 0;
  double cost_usd = 0;
  std::unordered_set<std::string> hosts;  // at most kMaxHostsPerAgent
  bool hosts_capped = false;
  uint64_t files_changed = 0, denials = 0;
  std::unordered_set<std::string> holds_waiting;  // paused hold ids not yet decided
  int64_t last_seen_ns = 0;
  std::deque<CallRow> recent_calls;  // newest last, at most kRecentRows
  std::deque<FileRow> recent_files;  // newest last, at most kRecentRows
  // (event time, cost) of priced calls within kRateWindowNs of the newest event seen.
  std::deque<std::pair<int64_t, double>> cost_window;
  uint64_t touched = 0;  // board sequence of the last event: eviction order
};

enum class SortKey { kCost, kRate, kCalls, kErrors, kName };
SortKey next_sort(SortKey k);
std::string_view sort_name(SortKey k);

class AgentBoard {
 public:
  explicit AgentBoard(size_t max_agents = 10000);
  AgentBoard(const AgentBoard&) = delete;
  AgentBoard& operator=(const AgentBoard&) = delete;
  ~AgentBoard();

  // One line of the events file (trailing newline optional). Never throws on bad input:
  // oversized, invalid JSON or a line without `type` is counted in skipped().
  void feed(std::string_view line);
  // A line the reader had to drop before it could be fed (longer than kMaxLineBytes).
  void note_skipped_line() {
    ++lines_;
    ++skipped_;
  }

  // Dollars per minute over the last 60 s of event time (before the newest event seen).
  double cost_per_min(const AgentStats& a) const;
  // Agents ordered by `key` (largest first; names ascending), ties broken by name then id.
  std::vector<const AgentStats*> sorted(SortKey key) const;
  const AgentStats* find(std::string_view id) const;

  size_t agents() const { return agents_.size(); }
  uint64_t lines() const { return lines_; }
  uint64_t skipped() const { return skipped_; }
  uint64_t evicted() const { return evicted_; }
  int64_t newest_ns() const { return newest_ns_; }
  // Last sensor.health state seen ("started", "running", "stopped", ...), empty when none.
  const std::string& sensor_state() const { return sensor_state_; }

 private:
  struct Parser;
  AgentStats& agent(std::string_view id, std::string_view name, std::optional<int64_t> pid);
  void prune(AgentStats& a) const;

  size_t max_agents_;
  std::unordered_map<std::string, AgentStats> agents_;
  std::map<uint64_t, std::string> by_touch_;  // touched -> id: the oldest is evicted first
  std::unique_ptr<Parser> parser_;
  uint64_t lines_ = 0, skipped_ = 0, evicted_ = 0, seq_ = 0;
  int64_t newest_ns_ = 0;
  std::string sensor_state_;
};

}  // namespace rein::top
