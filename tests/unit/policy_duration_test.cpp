#include <gtest/gtest.h>

#include "policy/duration.h"

using rein::policy::format_duration;
using rein::policy::parse_duration;
using std::chrono::seconds;

TEST(PolicyDuration, ParsesEachUnit) {
  EXPECT_EQ(parse_duration("90s").value(), seconds(90));
  EXPECT_EQ(parse_duration("5m").value(), seconds(300));
  EXPECT_EQ(parse_duration("24h").value(), seconds(86400));
  EXPECT_EQ(parse_duration("7d").value(), seconds(7 * 86400));
  EXPECT_EQ(parse_duration("0s").value(), seconds(0));
  EXPECT_EQ(parse_duration("3650d").value(), rein::policy::kMaxDuration);
}

TEST(PolicyDuration, RejectsAnythingAmbiguous) {
  for (const char* bad : {"", "s", "5", "5 m", " 5m", "5m ", "-5m", "+5m", "1.5h", "1h30m", "5M", "5ms", "5w",
                          "0x10s", "3651d", "99999999999999d", "5mm"})
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  EXPECT_NE(parse_duration("5").error().message.find("unit"), std::string::npos);
}

TEST(PolicyDuration, FormatsInTheLargestWholeUnit) {
  EXPECT_EQ(format_duration(seconds(5400)), "90m");
  EXPECT_EQ(format_duration(seconds(86400)), "1d");
  EXPECT_EQ(format_duration(seconds(7200)), "2h");
  EXPECT_EQ(format_duration(seconds(61)), "61s");
  EXPECT_EQ(format_duration(seconds(0)), "0s");
}
