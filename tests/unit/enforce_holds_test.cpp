#include <gtest/gtest.h>

#include <string>

#include "enforce/holds.h"

using rein::enforce::Hold;
using rein::enforce::HoldRegistry;

namespace {

Hold make_hold(uint32_t pid, uint64_t deadline_ns, std::string what = "/x") {
  Hold h;
  h.id = 9999;  // ignored: the registry assigns ids
  h.pid = pid;
  h.agent_root = pid;
  h.agent_id = "agent-" + std::to_string(pid);
  h.rule = "r";
  h.kind = "file";
  h.what = std::move(what);
  h.since_ns = 1;
  h.deadline_ns = deadline_ns;
  return h;
}

}  // namespace

TEST(EnforceHolds, AddAssignsIncreasingIds) {
  HoldRegistry reg;
  auto a = reg.add(make_hold(10, 100));
  auto b = reg.add(make_hold(11, 100));
  auto c = reg.add(make_hold(12, 100));
  ASSERT_TRUE(a && b && c);
  EXPECT_GE(*a, 1u);
  EXPECT_LT(*a, *b);
  EXPECT_LT(*b, *c);
  EXPECT_EQ(reg.size(), 3u);
  // Ids are never reused, even after a take.
  ASSERT_TRUE(reg.take(*c));
  auto d = reg.add(make_hold(13, 100));
  ASSERT_TRUE(d);
  EXPECT_GT(*d, *c);
}

TEST(EnforceHolds, TakeReturnsTheHoldOnce) {
  HoldRegistry reg;
  auto id = reg.add(make_hold(42, 500, "/etc/shadow"));
  ASSERT_TRUE(id);
  auto h = reg.take(*id);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->id, *id);
  EXPECT_EQ(h->pid, 42u);
  EXPECT_EQ(h->what, "/etc/shadow");
  EXPECT_EQ(h->agent_id, "agent-42");
  EXPECT_EQ(reg.size(), 0u);
  EXPECT_FALSE(reg.take(*id));
  EXPECT_FALSE(reg.take(0));
  EXPECT_FALSE(reg.take(~0ULL));
}

TEST(EnforceHolds, ExpireRemovesOnlyPastDeadlines) {
  HoldRegistry reg;
  auto early = reg.add(make_hold(1, 100));
  auto late = reg.add(make_hold(2, 200));
  auto never = reg.add(make_hold(3, 0));  // no deadline: only a human ends it
  ASSERT_TRUE(early && late && never);
  EXPECT_TRUE(reg.expire(99).empty());
  auto gone = reg.expire(100);  // the deadline itself counts as passed
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].id, *early);
  EXPECT_EQ(gone[0].pid, 1u);
  EXPECT_EQ(reg.size(), 2u);
  gone = reg.expire(~0ULL);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].id, *late);
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_TRUE(reg.take(*never));
}

TEST(EnforceHolds, ForgetPidRemovesEveryHoldOfThatProcess) {
  HoldRegistry reg;
  auto a = reg.add(make_hold(7, 100));
  auto b = reg.add(make_hold(8, 100));
  auto c = reg.add(make_hold(7, 100));
  ASSERT_TRUE(a && b && c);
  auto gone = reg.forget_pid(7);
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[0].pid, 7u);
  EXPECT_EQ(gone[1].pid, 7u);
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_TRUE(reg.forget_pid(7).empty());
  EXPECT_TRUE(reg.forget_pid(12345).empty());
  auto left = reg.list();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, *b);
}

TEST(EnforceHolds, ListIsOrderedByIdAndDoesNotRemove) {
  HoldRegistry reg;
  for (uint32_t pid = 100; pid < 105; pid++) ASSERT_TRUE(reg.add(make_hold(pid, 1000)));
  auto l = reg.list();
  ASSERT_EQ(l.size(), 5u);
  for (size_t i = 1; i < l.size(); i++) EXPECT_LT(l[i - 1].id, l[i].id);
  for (size_t i = 0; i < l.size(); i++) EXPECT_EQ(l[i].pid, 100 + i);
  EXPECT_EQ(reg.size(), 5u);
}

TEST(EnforceHolds, BoundedWhenFull) {
  HoldRegistry reg(3);
  for (uint32_t i = 0; i < 3; i++) ASSERT_TRUE(reg.add(make_hold(i + 1, 100)));
  EXPECT_FALSE(reg.add(make_hold(99, 100)));
  EXPECT_EQ(reg.size(), 3u);
  // Room again once one is taken.
  auto first = reg.list().front().id;
  ASSERT_TRUE(reg.take(first));
  EXPECT_TRUE(reg.add(make_hold(99, 100)));
  EXPECT_FALSE(reg.add(make_hold(100, 100)));

  HoldRegistry none(0);
  EXPECT_FALSE(none.add(make_hold(1, 100)));
  EXPECT_EQ(none.size(), 0u);
}

// ---------------------------------------------------------------- reconciliation

TEST(EnforceHolds, UnclaimedKernelHoldsAreOldOnesWithoutAHold) {
  using rein::enforce::KernelHold;
  rein::enforce::HoldRegistry reg;
  rein::enforce::Hold h;
  h.pid = 10;
  ASSERT_TRUE(reg.add(h));
  const uint64_t s = 1'000'000'000;
  std::vector<KernelHold> kernel = {{10, 1, 0, 0},       // has a hold
                                    {11, 2, 0, 0},       // old, no hold: needs one
                                    {12, 3, 9 * s + s / 2, 0},  // young: its record may be coming
                                    {13, 4, 20 * s, 0}}; // in the future (clock skew): wait
  auto out = rein::enforce::unclaimed_kernel_holds(kernel, reg, 10 * s, s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].pid, 11u);
  EXPECT_EQ(out[0].rule, 2u);
  EXPECT_EQ(rein::enforce::unclaimed_kernel_holds(kernel, reg, 12 * s, s).size(), 2u);
  EXPECT_TRUE(reg.find_pid(10));
  EXPECT_FALSE(reg.find_pid(11));
}
