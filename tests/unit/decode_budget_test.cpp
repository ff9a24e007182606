#include "proto/decode_budget.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "compression_test_util.h"
#include "proto/content_decoder.h"

namespace {

using rein::proto::BudgetLease;
using rein::proto::ContentDecoder;
using rein::proto::DecodeBudget;
using namespace rein::testutil;

TEST(DecodeBudget, TakesAllOrNothingAndCountsRefusals) {
  DecodeBudget b;
  b.set_limit(100);
  EXPECT_TRUE(b.try_take(60));
  EXPECT_FALSE(b.try_take(41));
  EXPECT_TRUE(b.try_take(40));
  EXPECT_EQ(b.in_use(), 100u);
  EXPECT_EQ(b.refusals(), 1u);
  b.give_back(100);
  EXPECT_EQ(b.in_use(), 0u);
  EXPECT_EQ(b.peak(), 100u);
  EXPECT_FALSE(b.try_take(101));  // more than the whole budget never fits
}

TEST(DecodeBudget, LeaseGivesBackOnceWhenMovedAndDestroyed) {
  DecodeBudget b;
  b.set_limit(1000);
  {
    BudgetLease a(b);
    EXPECT_TRUE(a.take(300));
    BudgetLease moved(std::move(a));
    EXPECT_EQ(a.held(), 0u);
    EXPECT_EQ(moved.held(), 300u);
    BudgetLease assigned(b);
    EXPECT_TRUE(assigned.take(100));
    assigned = std::move(moved);  // the 100 go back, the 300 move over
    EXPECT_EQ(b.in_use(), 300u);
  }
  EXPECT_EQ(b.in_use(), 0u);
}

// Many pending compressed bodies (the hostile case: 64 requests of 16 MiB each from ~1 MiB
// of gzip) hold no more than the global budget together; each cut body says why.
TEST(DecodeBudget, ManyBombsTogetherStayWithinTheGlobalBudget) {
  auto& g = DecodeBudget::global();
  const size_t saved = g.limit();
  g.set_limit(size_t{32} << 20);
  const std::string bomb = gzip_zeros(size_t{16} << 20);
  std::vector<std::unique_ptr<ContentDecoder>> decs;
  std::vector<std::string> bodies(64);
  size_t total = 0, cut = 0;
  for (auto& body : bodies) {
    decs.push_back(std::make_unique<ContentDecoder>(std::vector<std::string>{"gzip"}));
    decs.back()->feed(bytes(bomb), body);
    decs.back()->finish();
    total += body.size();
    if (decs.back()->error() == "decode memory budget") cut++;
  }
  EXPECT_LE(total, size_t{32} << 20);
  EXPECT_LE(g.in_use(), size_t{32} << 20);
  EXPECT_GE(cut, 60u);
  // a body kept after its decoder is gone keeps its share until the lease ends
  BudgetLease kept = decs.front()->take_lease();
  const size_t held = kept.held();
  EXPECT_GT(held, 0u);
  decs.clear();
  EXPECT_EQ(g.in_use(), held);
  kept.reset();
  EXPECT_EQ(g.in_use(), 0u);
  g.set_limit(saved);
}

}  // namespace
