// Prompt/tool drift across sessions: per agent name, model and dimension (system prompt or
// tool list), the few prompt variants earlier sessions started with, as sets of "stable"
// line hashes (digit runs and path-like words masked, so dates, working directories and
// ids do not count) or tool-name hashes. A session's first prompt for a model is compared
// with them: no new line in some variant is inside; less than half of every variant's lines
// kept is another role (a new variant); otherwise the added lines are drift from the
// name's baseline, reported once and then merged into that variant. Nothing is judged until
// the name has `kMinSessions` earlier sessions for that model. Kept in --state-dir, bounded.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rein::detect {

class PromptBaselines {
 public:
  static constexpr uint32_t kMinSessions = 2;  // earlier sessions needed before judging
  static constexpr size_t kMaxKeys = 256;      // name x model x dimension
  static constexpr size_t kMaxVariants = 4;    // per key
  static constexpr size_t kMaxLines = 512;     // per variant

  struct Variant {
    std::string hash;             // of the prompt it was first learned from
    std::vector<uint64_t> lines;  // sorted, unique
    int64_t last_seen = 0;        // unix seconds
  };
  struct Entry {
    std::vector<Variant> variants;
    uint32_t sessions = 0;      // distinct sessions that started with a prompt here
    uint64_t last_session = 0;  // hash of the last of them
    int64_t last_seen = 0;
  };
  // A change from the name's earlier sessions.
  struct Drift {
    std::string baseline_hash;
    uint32_t baseline_sessions = 0;
    uint64_t baseline_lines = 0;
    std::vector<uint64_t> added;  // stable hashes new to the closest variant
    uint64_t removed = 0;         // of its lines, not in this prompt
  };

  // Compares `stable` (the prompt's stable line hashes, any order) of a session's first
  // call for (name, model, what) and learns from it. Only the first call per session and
  // key is judged; later ones return nullopt at once.
  std::optional<Drift> check(std::string_view name, std::string_view model, std::string_view what,
                             std::string_view session, const std::string& hash,
                             const std::vector<uint64_t>& stable, int64_t now);
  void on_session_end(std::string_view session);

  // Saved as JSON in this file (empty: memory only).
  Result<void> load(const std::string& path);
  Result<void> save();
  bool dirty() const { return dirty_; }
  size_t tracked() const;
  size_t state_bytes() const;  // estimate (detect/state_bytes.h)

  // Parses a saved file; exposed for the fuzzer.
  static Result<std::map<std::string, Entry>> parse(std::string_view text);

 private:
  std::map<std::string, Entry> entries_;  // name \x1f model \x1f what
  std::set<std::string> judged_;          // session \x1f key: already compared
  std::string path_;
  bool dirty_ = false;
};

// A line with digit runs as "0", every whitespace-separated word holding a '/' as "/" and
// hex ids (7+ hex digits) as "#": what stays the same when only a date, a path, a number
// or a commit id changes.
std::string stable_line(std::string_view line);

}  // namespace rein::detect
