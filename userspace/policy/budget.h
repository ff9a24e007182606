// Budget accounting over rolling windows, in bounded memory: each window is a ring of
// fixed-width buckets, so an amount stops counting between (window - bucket width) and
// window after it was spent (one bucket is 1/60 of the window by default: 24 minutes of a
// 24h budget). Not thread-safe: one owner feeds it from the pipeline.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/policy.h"

namespace rein::policy {

struct BudgetTotals {
  double usd = 0;
  uint64_t tokens = 0;
};

class BudgetWindow {
 public:
  static constexpr uint32_t kDefaultBuckets = 60;
  static constexpr uint32_t kMaxBuckets = 1024;

  // window_ns >= 1; buckets is clamped to 1..kMaxBuckets.
  explicit BudgetWindow(uint64_t window_ns, uint32_t buckets = kDefaultBuckets);

  // Negative, NaN or infinite dollars count as 0; tokens saturate. A sample older than the
  // bucket now occupying its slot is already outside the window and is dropped.
  void add(uint64_t ts_ns, double usd, uint64_t tokens);
  // Sum of the buckets inside the window ending at now_ns (samples after now_ns excluded).
  BudgetTotals totals(uint64_t now_ns) const;

  // Nothing left that could count at now_ns or later.
  bool expired(uint64_t now_ns) const;

  uint64_t bucket_ns() const { return width_ns_; }
  uint64_t dropped_late() const { return dropped_late_; }

 private:
  struct Bucket {
    uint64_t epoch_plus1 = 0;  // 0: never used
    double usd = 0;
    uint64_t tokens = 0;
  };
  uint64_t width_ns_;
  std::vector<Bucket> buckets_;
  uint64_t dropped_late_ = 0;
};

enum class BudgetState : uint8_t { kOk, kWarned, kExceeded };
std::string_view budget_state_name(BudgetState s);

struct BudgetTransition {
  const Budget* budget = nullptr;  // owned by the tracker
  std::string key;                 // session id (per: session) or agent name (per: name)
  BudgetState from = BudgetState::kOk;
  BudgetState to = BudgetState::kOk;
  BudgetTotals totals;
  double fraction = 0;  // the larger of usd/limit and tokens/limit
};

// One rolling window per (budget, agent key). record() and tick() return state changes,
// each reported once: Ok -> Warned -> Exceeded, and back down as the window frees.
class BudgetTracker {
 public:
  static constexpr size_t kDefaultMaxEntries = 4096;

  explicit BudgetTracker(std::vector<Budget> budgets, size_t max_entries = kDefaultMaxEntries,
                         uint32_t buckets = BudgetWindow::kDefaultBuckets);

  // One LLM call's usage, charged to every budget whose scope covers the agent.
  std::vector<BudgetTransition> record(const AgentRef& agent, uint64_t ts_ns, double usd, uint64_t tokens);
  // Re-evaluates every entry at now_ns; entries back at zero are forgotten.
  std::vector<BudgetTransition> tick(uint64_t now_ns);

  BudgetState state(std::string_view budget_name, std::string_view key) const;
  static std::string key_for(const Budget& b, const AgentRef& a);

  const std::vector<Budget>& budgets() const { return budgets_; }
  size_t entries() const { return lru_.size(); }
  // Entries dropped to stay within max_entries (Ok ones first): their spending is forgotten.
  uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    size_t budget;
    std::string key;
    BudgetWindow window;
    BudgetState state = BudgetState::kOk;
  };
  using Lru = std::list<Entry>;  // most recently charged first
  using Index = std::map<std::pair<size_t, std::string>, Lru::iterator, std::less<>>;

  BudgetState classify(const Budget& b, const BudgetTotals& t, double* fraction) const;
  bool evaluate(Entry& e, uint64_t now_ns, BudgetTransition* out) const;
  void make_room();

  std::vector<Budget> budgets_;
  size_t max_entries_;
  uint32_t buckets_;
  Lru lru_;
  Index index_;
  uint64_t evictions_ = 0;
};

}  // namespace rein::policy
