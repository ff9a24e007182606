#include "policy/budget.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rein::policy {

namespace {
constexpr uint64_t kNsPerSec = 1000000000ULL;
// Float sums of prices drift (0.1 * 50 != 5.0); a budget reached within this relative
// margin counts as reached.
constexpr double kEpsilon = 1e-9;
// How far back from the least recently charged entry to look for an Ok one to evict.
constexpr size_t kEvictScan = 64;
}  // namespace

BudgetWindow::BudgetWindow(uint64_t window_ns, uint32_t buckets) {
  buckets = std::clamp<uint32_t>(buckets, 1, kMaxBuckets);
  window_ns = std::max<uint64_t>(window_ns, 1);
  width_ns_ = window_ns / buckets + (window_ns % buckets ? 1 : 0);
  buckets_.resize(buckets);
}

void BudgetWindow::add(uint64_t ts_ns, double usd, uint64_t tokens) {
  if (!std::isfinite(usd) || usd < 0) usd = 0;
  const uint64_t epoch = ts_ns / width_ns_;
  Bucket& b = buckets_[epoch % buckets_.size()];
  if (b.epoch_plus1 > epoch + 1) {
    dropped_late_++;
    return;
  }
  if (b.epoch_plus1 < epoch + 1) b = Bucket{epoch + 1, 0, 0};
  b.usd += usd;
  b.tokens = tokens > std::numeric_limits<uint64_t>::max() - b.tokens ? std::numeric_limits<uint64_t>::max()
                                                                      : b.tokens + tokens;
}

BudgetTotals BudgetWindow::totals(uint64_t now_ns) const {
  const uint64_t cur = now_ns / width_ns_;
  BudgetTotals t;
  for (const Bucket& b : buckets_) {
    if (b.epoch_plus1 == 0) continue;
    const uint64_t e = b.epoch_plus1 - 1;
    if (e > cur || cur - e >= buckets_.size()) continue;
    t.usd += b.usd;
    t.tokens = b.tokens > std::numeric_limits<uint64_t>::max() - t.tokens ? std::numeric_limits<uint64_t>::max()
                                                                          : t.tokens + b.tokens;
  }
  return t;
}

bool BudgetWindow::expired(uint64_t now_ns) const {
  const uint64_t cur = now_ns / width_ns_;
  for (const Bucket& b : buckets_) {
    if (b.epoch_plus1 == 0) continue;
    const uint64_t e = b.epoch_plus1 - 1;
    if (e > cur || cur - e < buckets_.size()) return false;
  }
  return true;
}

std::string_view budget_state_name(BudgetState s) {
  switch (s) {
    case BudgetState::kOk: return "ok";
    case BudgetState::kWarned: return "warned";
    case BudgetState::kExceeded: return "exceeded";
  }
  return "?";
}

BudgetTracker::BudgetTracker(std::vector<Budget> budgets, size_t max_entries, uint32_t buckets)
    : budgets_(std::move(budgets)), max_entries_(std::max<size_t>(max_entries, 1)), buckets_(buckets) {}

std::string BudgetTracker::key_for(const Budget& b, const AgentRef& a) {
  return std::string(b.per == BudgetPer::kName ? a.name : a.session_id);
}

BudgetState BudgetTracker::classify(const Budget& b, const BudgetTotals& t, double* fraction) const {
  double f = 0;
  if (b.usd && *b.usd > 0) f = std::max(f, t.usd / *b.usd);
  if (b.tokens && *b.tokens > 0) f = std::max(f, static_cast<double>(t.tokens) / static_cast<double>(*b.tokens));
  *fraction = f;
  if (f >= 1.0 - kEpsilon) return BudgetState::kExceeded;
  if (f >= b.warn_at - kEpsilon) return BudgetState::kWarned;
  return BudgetState::kOk;
}

bool BudgetTracker::evaluate(Entry& e, uint64_t now_ns, BudgetTransition* out) const {
  const Budget& b = budgets_[e.budget];
  BudgetTotals t = e.window.totals(now_ns);
  double fraction = 0;
  BudgetState s = classify(b, t, &fraction);
  if (s == e.state) return false;
  *out = BudgetTransition{&b, e.key, e.state, s, t, fraction};
  e.state = s;
  return true;
}

void BudgetTracker::make_room() {
  while (lru_.size() >= max_entries_) {
    auto victim = std::prev(lru_.end());
    auto it = victim;
    for (size_t i = 0; i < kEvictScan; i++) {
      if (it->state == BudgetState::kOk) {
        victim = it;
        break;
      }
      if (it == lru_.begin()) break;
      --it;
    }
    index_.erase(std::make_pair(victim->budget, victim->key));
    lru_.erase(victim);
    evictions_++;
  }
}

std::vector<BudgetTransition> BudgetTracker::record(const AgentRef& agent, uint64_t ts_ns, double usd,
                                                    uint64_t tokens) {
  std::vector<BudgetTransition> out;
  for (size_t i = 0; i < budgets_.size(); i++) {
    const Budget& b = budgets_[i];
    if (!b.scope.applies_to(agent)) continue;
    std::string key = key_for(b, agent);
    auto found = index_.find(std::make_pair(i, key));
    Lru::iterator it;
    if (found == index_.end()) {
      make_room();
      const uint64_t window_ns = static_cast<uint64_t>(b.window.count()) * kNsPerSec;
      lru_.push_front(Entry{i, key, BudgetWindow(window_ns, buckets_)});
      it = lru_.begin();
      index_.emplace(std::make_pair(i, std::move(key)), it);
    } else {
      it = found->second;
      lru_.splice(lru_.begin(), lru_, it);
    }
    it->window.add(ts_ns, usd, tokens);
    BudgetTransition t;
    if (evaluate(*it, ts_ns, &t)) out.push_back(std::move(t));
  }
  return out;
}

std::vector<BudgetTransition> BudgetTracker::tick(uint64_t now_ns) {
  std::vector<BudgetTransition> out;
  for (auto it = lru_.begin(); it != lru_.end();) {
    BudgetTransition t;
    if (evaluate(*it, now_ns, &t)) out.push_back(std::move(t));
    if (it->state == BudgetState::kOk && it->window.expired(now_ns)) {
      index_.erase(std::make_pair(it->budget, it->key));
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

BudgetState BudgetTracker::state(std::string_view budget_name, std::string_view key) const {
  for (size_t i = 0; i < budgets_.size(); i++) {
    if (budgets_[i].name != budget_name) continue;
    auto it = index_.find(std::make_pair(i, std::string(key)));
    return it == index_.end() ? BudgetState::kOk : it->second->state;
  }
  return BudgetState::kOk;
}

}  // namespace rein::policy
