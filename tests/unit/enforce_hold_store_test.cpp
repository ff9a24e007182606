#include <gtest/gtest.h>

#include <fstream>

#include "enforce/hold_store.h"
#include "temp_dir.h"

using rein::enforce::LeftoverAction;
using rein::enforce::SavedHold;

TEST(EnforceHoldStore, SerializeParseRoundTrip) {
  std::vector<SavedHold> holds = {{123, 456789, false, 1700000000, "hold-secret"},
                                  {4194304, 1, true, 0, "r"}};
  auto text = rein::enforce::serialize_holds(holds);
  EXPECT_EQ(text, "123 456789 deny 1700000000 hold-secret\n4194304 1 allow 0 r\n");
  auto back = rein::enforce::parse_holds(text);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].pid, 123u);
  EXPECT_EQ(back[0].start_ticks, 456789u);
  EXPECT_FALSE(back[0].default_allow);
  EXPECT_EQ(back[0].deadline_unix, 1700000000);
  EXPECT_EQ(back[0].rule, "hold-secret");
  EXPECT_TRUE(back[1].default_allow);
}

TEST(EnforceHoldStore, RuleNamesCannotBreakTheLineFormat) {
  auto text = rein::enforce::serialize_holds({{5, 6, false, 7, "a b\nc\td"}});
  EXPECT_EQ(text, "5 6 deny 7 a_b_c_d\n");
}

TEST(EnforceHoldStore, MalformedLinesAreSkipped) {
  size_t unreadable = 0;
  auto out = rein::enforce::parse_holds(
      "garbage\n"
      "1 5 deny 0 pid-one\n"  // pid 1 is never signalled
      "0 5 deny 0 pid-zero\n"
      "12 0 deny 0 no-start\n"  // no start time: cannot tell a reused pid
      "12 5 maybe 0 bad-default\n"
      "12 5x deny 0 bad-number\n"
      "99999999999 5 deny 0 too-big\n"
      "\n"
      "42 7 allow -1 ok\n"
      "43 8 deny 9",  // no rule, no final newline: still fine
      &unreadable);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(unreadable, 7u);  // counted, so the start can say so (the empty line is not one)
  EXPECT_EQ(out[0].pid, 42u);
  EXPECT_EQ(out[0].rule, "ok");
  EXPECT_EQ(out[1].pid, 43u);
  EXPECT_EQ(out[1].rule, "");
}

TEST(EnforceHoldStore, LeftoverGetsItsDefaultOnlyIfSameProcessAndStopped) {
  SavedHold deny{50, 1000, false, 0, "r"};
  SavedHold allow{50, 1000, true, 0, "r"};
  using rein::process::ProcState;
  EXPECT_EQ(rein::enforce::decide_leftover(deny, ProcState{'T', 1000}), LeftoverAction::kKill);
  EXPECT_EQ(rein::enforce::decide_leftover(deny, ProcState{'t', 1000}), LeftoverAction::kKill);
  EXPECT_EQ(rein::enforce::decide_leftover(allow, ProcState{'T', 1000}), LeftoverAction::kResume);
  // another process has the pid now
  EXPECT_EQ(rein::enforce::decide_leftover(deny, ProcState{'T', 1001}), LeftoverAction::kNone);
  // it runs (someone resumed it): nothing to end
  EXPECT_EQ(rein::enforce::decide_leftover(deny, ProcState{'S', 1000}), LeftoverAction::kNone);
  EXPECT_EQ(rein::enforce::decide_leftover(deny, std::nullopt), LeftoverAction::kNone);
}

TEST(EnforceHoldStore, FileRoundTripAndLeftoversOfGoneProcesses) {
  rein::testutil::TempDir dir("hold_store");
  std::string path = dir.path() + "/holds";
  ASSERT_TRUE(rein::enforce::save_holds_file(path, {{4194303, 12345, false, 0, "r"}}));
  auto back = rein::enforce::load_holds_file(path);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].start_ticks, 12345u);
  // pid 4194303 is (almost certainly) not running with that start: nothing is signalled,
  // and the file is consumed.
  auto res = rein::enforce::resolve_leftover_holds(path);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].action, LeftoverAction::kNone);
  EXPECT_TRUE(rein::enforce::load_holds_file(path).empty());
}
