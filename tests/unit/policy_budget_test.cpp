#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "policy/budget.h"

using namespace rein::policy;

namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kHour = 3600 * kSec;

Budget make_budget(std::string name, BudgetPer per, std::optional<double> usd, std::optional<uint64_t> tokens,
                   std::chrono::seconds window = std::chrono::hours(1)) {
  Budget b;
  b.name = std::move(name);
  b.per = per;
  b.window = window;
  b.usd = usd;
  b.tokens = tokens;
  b.warn_at = 0.8;
  b.action = BudgetAction::kBlockLlm;
  return b;
}

AgentRef agent(std::string_view session, std::string_view name, bool discovered = false) {
  return AgentRef{session, name, discovered};
}

}  // namespace

TEST(PolicyBudgetWindow, SumsWithinTheWindowAndExpiresOldBuckets) {
  BudgetWindow w(60 * kSec, 60);  // 1 s buckets
  EXPECT_EQ(w.bucket_ns(), kSec);
  const uint64_t t0 = 1000 * kSec;
  w.add(t0, 1.0, 100);
  w.add(t0 + 30 * kSec, 2.0, 200);
  BudgetTotals t = w.totals(t0 + 30 * kSec);
  EXPECT_DOUBLE_EQ(t.usd, 3.0);
  EXPECT_EQ(t.tokens, 300u);
  // The first sample leaves the window 60 s after its bucket began.
  EXPECT_EQ(w.totals(t0 + 59 * kSec).tokens, 300u);
  EXPECT_EQ(w.totals(t0 + 60 * kSec).tokens, 200u);
  EXPECT_DOUBLE_EQ(w.totals(t0 + 60 * kSec).usd, 2.0);
  EXPECT_EQ(w.totals(t0 + 90 * kSec).tokens, 0u);
  EXPECT_FALSE(w.expired(t0 + 89 * kSec));
  EXPECT_TRUE(w.expired(t0 + 90 * kSec));
  // Samples after `now` are not counted yet.
  EXPECT_EQ(w.totals(t0 - kSec).tokens, 0u);
}

TEST(PolicyBudgetWindow, ReusesSlotsAndDropsSamplesOlderThanTheWindow) {
  BudgetWindow w(10 * kSec, 10);
  w.add(5 * kSec, 1.0, 1);
  w.add(15 * kSec, 1.0, 10);  // same slot, a later epoch: the old bucket is reset
  EXPECT_EQ(w.totals(15 * kSec).tokens, 10u);
  w.add(5 * kSec, 1.0, 1000);  // late and outside the window of what the slot now holds
  EXPECT_EQ(w.dropped_late(), 1u);
  EXPECT_EQ(w.totals(15 * kSec).tokens, 10u);
}

TEST(PolicyBudgetWindow, IgnoresBadDollarAmountsAndSaturatesTokens) {
  BudgetWindow w(60 * kSec);
  w.add(kSec, -5.0, 0);
  w.add(kSec, std::nan(""), 0);
  w.add(kSec, std::numeric_limits<double>::infinity(), 0);
  EXPECT_DOUBLE_EQ(w.totals(kSec).usd, 0.0);
  w.add(kSec, 0, std::numeric_limits<uint64_t>::max());
  w.add(2 * kSec, 0, 5);
  EXPECT_EQ(w.totals(2 * kSec).tokens, std::numeric_limits<uint64_t>::max());
}

TEST(PolicyBudgetWindow, MemoryIsBoundedByBucketCount) {
  BudgetWindow w(kHour, 1000000);  // clamped
  EXPECT_EQ(w.bucket_ns(), (kHour + BudgetWindow::kMaxBuckets - 1) / BudgetWindow::kMaxBuckets);
  for (uint64_t i = 0; i < 100000; i++) w.add(i * kSec / 10, 0.001, 1);
  // Only the last hour counts, within one bucket width of slack.
  const uint64_t now = 99999 * kSec / 10;
  uint64_t tokens = w.totals(now).tokens;
  EXPECT_GE(tokens, 36000u - 40);
  EXPECT_LE(tokens, 36000u);
}

TEST(PolicyBudgetTracker, ReportsEachTransitionOnceUpAndDown) {
  BudgetTracker tr({make_budget("daily", BudgetPer::kSession, 5.0, std::nullopt)});
  const AgentRef a = agent("claude-100-abc", "claude");
  const uint64_t t0 = 10 * kHour;

  EXPECT_TRUE(tr.record(a, t0, 1.0, 10).empty());
  auto warn = tr.record(a, t0 + kSec, 3.0, 10);  // 4.0 of 5.0 = 0.8
  ASSERT_EQ(warn.size(), 1u);
  EXPECT_EQ(warn[0].budget->name, "daily");
  EXPECT_EQ(warn[0].key, "claude-100-abc");
  EXPECT_EQ(warn[0].from, BudgetState::kOk);
  EXPECT_EQ(warn[0].to, BudgetState::kWarned);
  EXPECT_DOUBLE_EQ(warn[0].totals.usd, 4.0);
  EXPECT_NEAR(warn[0].fraction, 0.8, 1e-12);
  EXPECT_TRUE(tr.record(a, t0 + 2 * kSec, 0.5, 10).empty()) << "still warned: no second report";

  auto over = tr.record(a, t0 + 3 * kSec, 0.5, 10);  // 5.0: the budget is reached
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].from, BudgetState::kWarned);
  EXPECT_EQ(over[0].to, BudgetState::kExceeded);
  EXPECT_TRUE(tr.record(a, t0 + 4 * kSec, 1.0, 10).empty());
  EXPECT_EQ(tr.state("daily", "claude-100-abc"), BudgetState::kExceeded);

  EXPECT_TRUE(tr.tick(t0 + 30 * 60 * kSec).empty()) << "nothing has left the window yet";
  auto freed = tr.tick(t0 + 2 * kHour);
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_EQ(freed[0].from, BudgetState::kExceeded);
  EXPECT_EQ(freed[0].to, BudgetState::kOk);
  EXPECT_EQ(tr.tick(t0 + 3 * kHour).size(), 0u);
  EXPECT_EQ(tr.entries(), 0u) << "expired Ok entries are forgotten";
}

TEST(PolicyBudgetTracker, JumpsStraightToExceededWithOneReport) {
  BudgetTracker tr({make_budget("tok", BudgetPer::kSession, std::nullopt, 1000)});
  auto t = tr.record(agent("s1", "a"), kHour, 0, 5000);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].from, BudgetState::kOk);
  EXPECT_EQ(t[0].to, BudgetState::kExceeded);
  EXPECT_DOUBLE_EQ(t[0].fraction, 5.0);
}

TEST(PolicyBudgetTracker, FloatDriftStillReachesTheLimit) {
  BudgetTracker tr({make_budget("usd", BudgetPer::kSession, 5.0, std::nullopt)});
  std::vector<BudgetTransition> last;
  for (int i = 0; i < 50; i++) {
    auto t = tr.record(agent("s", "a"), kHour + i, 0.1, 0);
    if (!t.empty()) last = t;
  }
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].to, BudgetState::kExceeded);
}

TEST(PolicyBudgetTracker, EitherLimitTriggers) {
  BudgetTracker tr({make_budget("both", BudgetPer::kSession, 100.0, 1000)});
  auto t = tr.record(agent("s", "a"), kHour, 0.01, 900);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].to, BudgetState::kWarned);
}

TEST(PolicyBudgetTracker, PerSessionAndPerNameKeysAccumulateDifferently) {
  BudgetTracker tr({make_budget("by-session", BudgetPer::kSession, 10.0, std::nullopt),
                    make_budget("by-name", BudgetPer::kName, 10.0, std::nullopt)});
  auto t1 = tr.record(agent("claude-1", "claude"), kHour, 6.0, 0);
  EXPECT_TRUE(t1.empty());
  auto t2 = tr.record(agent("claude-2", "claude"), kHour + kSec, 6.0, 0);
  // Two sessions of 6.0 each: per-name sees 12.0, per-session sees 6.0 twice.
  ASSERT_EQ(t2.size(), 1u);
  EXPECT_EQ(t2[0].budget->name, "by-name");
  EXPECT_EQ(t2[0].key, "claude");
  EXPECT_EQ(t2[0].to, BudgetState::kExceeded);
  EXPECT_EQ(tr.state("by-session", "claude-1"), BudgetState::kOk);
  EXPECT_EQ(tr.state("by-session", "claude-2"), BudgetState::kOk);
  EXPECT_EQ(tr.state("by-name", "claude"), BudgetState::kExceeded);
  EXPECT_EQ(BudgetTracker::key_for(tr.budgets()[0], agent("claude-1", "claude")), "claude-1");
  EXPECT_EQ(BudgetTracker::key_for(tr.budgets()[1], agent("claude-1", "claude")), "claude");
}

TEST(PolicyBudgetTracker, ScopesDecideWhichBudgetsAreCharged) {
  Budget scoped = make_budget("claude-only", BudgetPer::kSession, 1.0, std::nullopt);
  scoped.scope.agents = {"claude"};
  Budget discovered = make_budget("discovered", BudgetPer::kSession, 1.0, std::nullopt);
  discovered.scope.autodiscovered = true;
  BudgetTracker tr({scoped, discovered});
  auto a = tr.record(agent("s1", "codex"), kHour, 5.0, 0);
  EXPECT_TRUE(a.empty());
  auto b = tr.record(agent("s2", "claude"), kHour, 5.0, 0);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].budget->name, "claude-only");
  // A discovered process that happens to be called "claude" is not the configured agent.
  auto c = tr.record(agent("s3", "claude", true), kHour, 5.0, 0);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].budget->name, "discovered");
}

TEST(PolicyBudgetTracker, EntryCountIsBoundedAndEvictsOkEntriesFirst) {
  BudgetTracker tr({make_budget("b", BudgetPer::kSession, 1.0, std::nullopt)}, 4);
  tr.record(agent("hot", "x"), kHour, 2.0, 0);  // exceeded, least recently charged
  for (int i = 0; i < 20; i++) tr.record(agent("s" + std::to_string(i), "x"), kHour + i, 0.01, 0);
  EXPECT_EQ(tr.entries(), 4u);
  EXPECT_EQ(tr.evictions(), 17u);
  EXPECT_EQ(tr.state("b", "hot"), BudgetState::kExceeded) << "an exceeded budget is not evicted while Ok ones exist";
}
