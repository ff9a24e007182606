#include <gtest/gtest.h>

#include "policy/host_pattern.h"

using rein::policy::HostPattern;

namespace {
HostPattern hp(std::string_view s) {
  auto h = HostPattern::parse(s);
  EXPECT_TRUE(h.ok()) << s << ": " << (h.ok() ? "" : h.error().message);
  return std::move(h).value();
}
}  // namespace

TEST(PolicyHostPattern, ExactIsCaseInsensitiveAndIgnoresTrailingDot) {
  HostPattern h = hp("Evil.Example.com");
  EXPECT_FALSE(h.is_wildcard());
  EXPECT_EQ(h.name(), "evil.example.com");
  EXPECT_TRUE(h.matches("evil.example.com"));
  EXPECT_TRUE(h.matches("EVIL.EXAMPLE.COM."));
  EXPECT_FALSE(h.matches("x.evil.example.com"));
  EXPECT_FALSE(h.matches("evil.example.co"));
  EXPECT_FALSE(h.matches(""));
  EXPECT_TRUE(hp("example.com.").matches("example.com"));
}

TEST(PolicyHostPattern, WildcardCoversStrictSubdomainsOnly) {
  HostPattern h = hp("*.pastebin.com");
  EXPECT_TRUE(h.is_wildcard());
  EXPECT_EQ(h.to_string(), "*.pastebin.com");
  EXPECT_TRUE(h.matches("a.pastebin.com"));
  EXPECT_TRUE(h.matches("x.y.PASTEBIN.com."));
  EXPECT_FALSE(h.matches("pastebin.com"));
  EXPECT_FALSE(h.matches("evilpastebin.com"));
  EXPECT_FALSE(h.matches(".pastebin.com"));
  EXPECT_FALSE(h.matches("pastebin.com.evil.net"));
}

TEST(PolicyHostPattern, RejectsMalformedPatterns) {
  for (const char* bad : {"", ".", "*", "*.", "a.*.com", "*example.com", "**.example.com", "a..b", ".a.b",
                          "exa mple.com", "a/b", "host:443", "é.com"})
    EXPECT_FALSE(HostPattern::parse(bad).ok()) << bad;
  EXPECT_FALSE(HostPattern::parse(std::string(64, 'a') + ".com").ok());
  EXPECT_TRUE(HostPattern::parse(std::string(63, 'a') + ".com").ok());
  std::string long_name;
  while (long_name.size() < 260) long_name += "abcdefgh.";
  long_name += "com";
  EXPECT_FALSE(HostPattern::parse(long_name).ok());
}

TEST(PolicyHostPattern, HostileHostsDoNotMatchOrCrash) {
  HostPattern h = hp("*.a.com");
  EXPECT_FALSE(h.matches(std::string(100000, 'a') + ".a.com"));
  EXPECT_FALSE(h.matches(std::string("x.a.com\0", 8)));
  EXPECT_FALSE(h.matches("."));
}
