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

// A codec's own working memory (brotli's ring buffer, zstd's window: sized by what the sender
// declares) comes out of the same budget: with the budget nearly spent, a stream that asks
// for a large window fails to decode, and says so, instead of allocating past it; all of it
// goes back when the decoder is gone.
TEST(DecodeBudget, CodecWindowsAreDrawnFromTheBudget) {
  auto& g = DecodeBudget::global();
  const size_t saved = g.limit();
  const std::string text = sample_text(size_t{6} << 20);
  const std::string br = brotli_window(text, 24);
  const std::string zs = zstd_window(text, 23);
  for (const auto& [coding, body] : {std::pair<std::string, std::string>{"br", br}, {"zstd", zs}}) {
    g.set_limit(size_t{2} << 20);
    const uint64_t refused = g.refusals();
    {
      ContentDecoder d({coding});
      std::string out;
      d.feed(bytes(body), out);
      d.finish();
      // the codec itself failed (its window was refused), not the body's share
      EXPECT_EQ(d.error().rfind(coding + ":", 0), 0u) << coding << ": " << d.error();
      EXPECT_LT(out.size(), text.size()) << coding;
      EXPECT_GT(g.refusals(), refused) << coding;
      EXPECT_LE(g.in_use(), size_t{2} << 20) << coding;
    }
    EXPECT_EQ(g.in_use(), 0u) << coding;
    g.set_limit(size_t{64} << 20);  // room for the window and the body: it decodes
    {
      ContentDecoder d({coding});
      std::string out;
      d.feed(bytes(body), out);
      d.finish();
      EXPECT_EQ(d.error(), "") << coding;
      EXPECT_EQ(out, text) << coding;
      EXPECT_GT(g.peak(), text.size()) << coding;
    }
    EXPECT_EQ(g.in_use(), 0u) << coding;
  }
  g.set_limit(saved);
}

namespace {
// One owner (an agent) holds at most half the budget: what it cannot take is refused and
// counted as its own, and another owner still finds room.
TEST(DecodeBudget, AnOwnerHoldsAtMostItsShare) {
  DecodeBudget b;
  b.set_limit(1000);
  EXPECT_TRUE(b.try_take(400, 1));
  EXPECT_FALSE(b.try_take(101, 1));  // 501 > 1000 / 2
  EXPECT_EQ(b.owner_refusals(), 1u);
  EXPECT_EQ(b.refusals(), 1u);
  EXPECT_TRUE(b.try_take(100, 1));
  EXPECT_TRUE(b.try_take(500, 2));  // the other half is there for another agent
  EXPECT_FALSE(b.try_take(1, 0));   // and the whole is full
  EXPECT_EQ(b.owner_refusals(), 1u);
  EXPECT_EQ(b.owner_in_use(1), 500u);
  b.give_back(500, 1);
  EXPECT_EQ(b.owner_in_use(1), 0u);
  EXPECT_TRUE(b.try_take(1, 0));
  {
    BudgetLease l(b, 2);
    EXPECT_FALSE(l.take(1));  // owner 2 is at its share
    BudgetLease moved(b, 3);
    EXPECT_TRUE(moved.take(300));
    l = std::move(moved);  // the owner moves with the bytes
    EXPECT_EQ(b.owner_in_use(3), 300u);
  }
  EXPECT_EQ(b.owner_in_use(3), 0u);
  b.give_back(500, 2);
  b.give_back(1, 0);
  EXPECT_EQ(b.in_use(), 0u);
}

// A decoder made for an owner draws its body and its codec's window from that owner's share.
TEST(DecodeBudget, DecodersDrawFromTheirOwnersShare) {
  auto& g = DecodeBudget::global();
  const size_t saved = g.limit();
  g.set_limit(size_t{64} << 20);
  const std::string text = sample_text(size_t{2} << 20);
  const std::string zs = zstd_window(text, 22);
  {
    rein::proto::ContentDecoderLimits lim;
    lim.budget_owner = 77;
    ContentDecoder d({"zstd"}, lim);
    std::string out;
    d.feed(bytes(zs), out);
    d.finish();
    EXPECT_EQ(out, text);
    EXPECT_GT(g.owner_in_use(77), text.size());  // the body and the window
    BudgetLease kept = d.take_lease();
    EXPECT_GE(g.owner_in_use(77), kept.held());
  }
  EXPECT_EQ(g.owner_in_use(77), 0u);
  EXPECT_EQ(g.in_use(), 0u);
  g.set_limit(size_t{4} << 20);  // an owner's share: 2 MiB, less than this body
  {
    rein::proto::ContentDecoderLimits lim;
    lim.budget_owner = 78;
    ContentDecoder d({"zstd"}, lim);
    std::string out;
    d.feed(bytes(zs), out);
    d.finish();
    EXPECT_LT(out.size(), text.size());
    EXPECT_LE(g.owner_in_use(78), size_t{2} << 20);
  }
  g.set_limit(saved);
}
}  // namespace
