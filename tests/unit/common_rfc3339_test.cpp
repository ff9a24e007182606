#include <gtest/gtest.h>

#include <climits>

#include "common/rfc3339.h"

using rein::parse_rfc3339_ns;

TEST(Rfc3339, StrictFormIsUtcNanoseconds) {
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:01.25Z"), 1'250'000'000);
  EXPECT_EQ(parse_rfc3339_ns("2026-11-30T16:02:00+02:00"),
            parse_rfc3339_ns("2026-11-30T14:02:00Z"));
  EXPECT_EQ(parse_rfc3339_ns("2026-11-30 14:02:00z"), parse_rfc3339_ns("2026-11-30T14:02:00Z"));
  // Fractions beyond nanoseconds are read and ignored.
  EXPECT_EQ(*parse_rfc3339_ns("2026-11-30T03:00:11.1234567891Z") % 1'000'000'000, 123456789);
}

TEST(Rfc3339, RejectsWhatIsNotATime) {
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-30"));
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-30T14:02Z"));     // seconds required by default
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-30T14:02:00"));   // zone required by default
  EXPECT_FALSE(parse_rfc3339_ns("2026-02-29T00:00:00Z"));  // not a leap year
  EXPECT_TRUE(parse_rfc3339_ns("2028-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-30T24:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-30T14:02:00.Z"));
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-30T14:02:00Z "));
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-30T14:02:00+2:00"));
}

TEST(Rfc3339, CommandLineFormsWhenAllowed) {
  const rein::Rfc3339Options loose{.seconds_optional = true, .zone_optional = true};
  EXPECT_EQ(parse_rfc3339_ns("2026-11-30T14:02", loose), parse_rfc3339_ns("2026-11-30T14:02:00Z"));
  EXPECT_EQ(parse_rfc3339_ns("2026-11-30T14:02:00", loose),
            parse_rfc3339_ns("2026-11-30T14:02:00Z"));
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-30T14", loose));
}

TEST(Rfc3339, SaturatesOutsideInt64Nanoseconds) {
  EXPECT_EQ(parse_rfc3339_ns("2999-01-01T00:00:00Z"), INT64_MAX);
  EXPECT_EQ(parse_rfc3339_ns("1000-01-01T00:00:00Z"), INT64_MIN);
}
