// Prompt/tool drift: the system prompt or the tool list an agent session sends to one model
// changes between calls of one conversation (prompt injection, a tampered config). Calls
// are grouped by their first non-system message, so a sub-agent or a side task that
// starts its own conversation with its own prompt is not a change. Reports both hashes and sizes
// and a short diff summary (lines or tools added and removed) from per-line hashes: no
// prompt text is kept. A session's first prompt and tool list per model are also compared
// with those the agent name's earlier sessions started with (detect/prompt_baseline.h).
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "detect/detector_util.h"
#include "detect/prompt_baseline.h"
#include "detect/scope_drift.h"

namespace rein::detect {

class PromptDriftDetector {
 public:
  void configure(const policy::PromptDriftConfig& c) { cfg_ = c; }
  void set_time_format(TimeFormat f) { time_ = std::move(f); }
  void set_wall_clock(WallClock c) { wall_ = std::move(c); }
  void on_llm(const LlmFact& f, std::vector<Detection>& out);
  void on_session_end(std::string_view session);
  size_t tracked() const { return last_.size() + baselines_.tracked(); }
  size_t state_bytes() const;  // estimate (detect/state_bytes.h)
  // Earlier sessions' prompts per agent name: loaded from and saved to this file.
  Result<void> load(const std::string& path) { return baselines_.load(path); }
  Result<void> save() { return baselines_.save(); }
  bool dirty() const { return baselines_.dirty(); }

 private:
  struct Seen {
    std::optional<TextShape> system, tools;
    uint64_t system_ts = 0, tools_ts = 0;
    uint64_t last = 0;
  };
  void compare(const LlmFact& f, std::string_view what, const TextShape& before, uint64_t before_ts,
               const TextShape& now, std::vector<Detection>& out);
  void across_sessions(const LlmFact& f, std::string_view what, const TextShape& now,
                       std::vector<Detection>& out);

  policy::PromptDriftConfig cfg_;
  TimeFormat time_;
  WallClock wall_;
  std::unordered_map<std::string, Seen> last_;  // session + model
  PromptBaselines baselines_;
};

}  // namespace rein::detect
