#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include "policy/glob.h"

using rein::policy::Glob;
using rein::policy::GlobMode;

namespace {

Glob path(std::string_view p) {
  auto g = Glob::compile(p);
  EXPECT_TRUE(g.ok()) << p << ": " << (g.ok() ? "" : g.error().message);
  return std::move(g).value();
}

std::string compile_error(std::string_view p, GlobMode mode = GlobMode::kPath) {
  auto g = Glob::compile(p, mode);
  return g.ok() ? "" : g.error().message;
}

}  // namespace

TEST(PolicyGlob, SingleStarStaysInsideOneComponent) {
  Glob g = path("/etc/*.conf");
  EXPECT_TRUE(g.match("/etc/a.conf"));
  EXPECT_TRUE(g.match("/etc/.conf"));
  EXPECT_FALSE(g.match("/etc/sub/a.conf"));
  EXPECT_FALSE(g.match("/etc/a.confx"));
  EXPECT_FALSE(g.match("/etc2/a.conf"));
}

TEST(PolicyGlob, TrailingGlobStarCoversDirectoryAndSubtreeButNotSiblings) {
  Glob g = path("/a/**");
  EXPECT_TRUE(g.match("/a"));
  EXPECT_TRUE(g.match("/a/x"));
  EXPECT_TRUE(g.match("/a/x/y/z"));
  EXPECT_FALSE(g.match("/ab"));
  EXPECT_FALSE(g.match("/ab/x"));
  EXPECT_FALSE(g.match("/b/a/x"));
  EXPECT_TRUE(g.is_prefix_only());
  EXPECT_EQ(g.literal_prefix(), "/a/");
}

TEST(PolicyGlob, LeadingGlobStarMatchesNameAtAnyDepth) {
  Glob g = path("**/.env");
  EXPECT_TRUE(g.match("/.env"));
  EXPECT_TRUE(g.match("/srv/app/.env"));
  EXPECT_TRUE(g.match(".env"));
  EXPECT_FALSE(g.match("/srv/app/x.env"));
  EXPECT_FALSE(g.match("/srv/app/.env.local"));
  EXPECT_FALSE(g.match("/srv/.env/x"));
  EXPECT_EQ(g.basename_only(), ".env");
  EXPECT_FALSE(g.literal_prefix().has_value());
  EXPECT_FALSE(g.is_prefix_only());
}

TEST(PolicyGlob, MiddleGlobStarMatchesZeroOrMoreComponents) {
  Glob g = path("/a/**/b");
  EXPECT_TRUE(g.match("/a/b"));
  EXPECT_TRUE(g.match("/a/x/b"));
  EXPECT_TRUE(g.match("/a/x/y/b"));
  EXPECT_FALSE(g.match("/a/xb"));
  EXPECT_FALSE(g.match("/a/x/b/c"));
  EXPECT_FALSE(g.match("/ab"));
  EXPECT_EQ(g.literal_prefix(), "/a/");
  EXPECT_FALSE(g.basename_only().has_value());
}

TEST(PolicyGlob, QuestionMarkIsOneNonSeparatorByte) {
  Glob g = path("/tmp/?.txt");
  EXPECT_TRUE(g.match("/tmp/a.txt"));
  EXPECT_FALSE(g.match("/tmp/ab.txt"));
  EXPECT_FALSE(g.match("/tmp/.txt"));
  EXPECT_FALSE(path("/tmp?x").match("/tmp/x"));
}

TEST(PolicyGlob, CharacterClassesRangesAndNegation) {
  Glob g = path("/dev/sd[a-c][0-9]");
  EXPECT_TRUE(g.match("/dev/sda1"));
  EXPECT_TRUE(g.match("/dev/sdc9"));
  EXPECT_FALSE(g.match("/dev/sdd1"));
  EXPECT_FALSE(g.match("/dev/sda"));
  Glob n = path("/x/[!ab]");
  EXPECT_TRUE(n.match("/x/c"));
  EXPECT_FALSE(n.match("/x/a"));
  EXPECT_FALSE(path("/x[!a]y").match("/x/y"));  // negated classes still never match '/'
  EXPECT_TRUE(path("/x/[^ab]").match("/x/z"));
  EXPECT_TRUE(path("/x/[\\]]").match("/x/]"));
}

TEST(PolicyGlob, EscapesMakeWildcardsLiteral) {
  Glob g = path("/x/\\*");
  EXPECT_TRUE(g.match("/x/*"));
  EXPECT_FALSE(g.match("/x/a"));
  EXPECT_TRUE(g.is_literal());
  EXPECT_EQ(g.literal_prefix(), "/x/*");
}

TEST(PolicyGlob, LiteralPatternsAreExact) {
  Glob g = path("/etc/shadow");
  EXPECT_TRUE(g.is_literal());
  EXPECT_TRUE(g.match("/etc/shadow"));
  EXPECT_FALSE(g.match("/etc/shadow-"));
  EXPECT_FALSE(g.match("/etc/shado"));
  EXPECT_EQ(g.literal_prefix(), "/etc/shadow");
  EXPECT_FALSE(g.is_prefix_only());
}

TEST(PolicyGlob, LiteralPrefixStopsAtTheDirectoryOfTheFirstWildcard) {
  EXPECT_EQ(path("/root/.ssh/**").literal_prefix(), "/root/.ssh/");
  EXPECT_EQ(path("/etc/ssh/sshd_*").literal_prefix(), "/etc/ssh/");
  EXPECT_EQ(path("/**").literal_prefix(), "/");
  EXPECT_TRUE(path("/**").is_prefix_only());
  EXPECT_FALSE(path("/a/*/b/**").is_prefix_only());
  EXPECT_FALSE(path("**").literal_prefix().has_value());
  EXPECT_TRUE(path("**").match("/anything/at/all"));
}

TEST(PolicyGlob, BadPatternsAreRejectedWithAReason) {
  EXPECT_NE(compile_error("***"), "");
  EXPECT_NE(compile_error("/a/***"), "");
  EXPECT_NE(compile_error("/a/b**"), "");
  EXPECT_NE(compile_error("/a/**b"), "");
  EXPECT_NE(compile_error("/a/[abc"), "");
  EXPECT_NE(compile_error("/a/[]"), "");
  EXPECT_NE(compile_error("/a/[z-a]"), "");
  EXPECT_NE(compile_error("/a/[/]"), "");
  EXPECT_NE(compile_error("/a/\\"), "");
  EXPECT_NE(compile_error(""), "");
  EXPECT_NE(compile_error("/a//b"), "");
  EXPECT_NE(compile_error("/a/../b"), "");
  EXPECT_NE(compile_error("/a/./b"), "");
  EXPECT_NE(compile_error("/a/"), "");
  EXPECT_NE(compile_error(std::string("/a\0b", 4)), "");
  EXPECT_NE(compile_error(std::string(Glob::kMaxPatternBytes + 1, 'a')), "");
  EXPECT_NE(compile_error("gpt-**", GlobMode::kName), "");
  EXPECT_NE(compile_error("/"), "x") << "root alone is allowed";
  EXPECT_EQ(compile_error("/"), "");
}

TEST(PolicyGlob, NameModeTreatsSlashAsOrdinaryAndCanIgnoreCase) {
  auto g = Glob::compile("gpt-5*", GlobMode::kName, true);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->match("gpt-5"));
  EXPECT_TRUE(g->match("GPT-5-mini"));
  EXPECT_TRUE(g->match("gpt-5/preview"));
  EXPECT_FALSE(g->match("gpt-4o"));
  EXPECT_EQ(g->literal_prefix(), "gpt-5");
  auto slash = Glob::compile("models/*-pro", GlobMode::kName);
  ASSERT_TRUE(slash.ok());
  EXPECT_TRUE(slash->match("models/gemini-1.5-pro"));
  EXPECT_FALSE(slash->match("models/gemini-1.5-PRO"));  // case kept without the flag
  auto q = Glob::compile("a?c", GlobMode::kName);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->match("a/c"));
}

TEST(PolicyGlob, SubjectsLongerThanTheBoundNeverMatch) {
  Glob g = path("/**");
  EXPECT_TRUE(g.match("/" + std::string(Glob::kMaxSubjectBytes - 1, 'a')));
  EXPECT_FALSE(g.match("/" + std::string(Glob::kMaxSubjectBytes, 'a')));
}

TEST(PolicyGlob, PathologicalPatternsFinishQuickly) {
  // Classic exponential-backtracking shapes: many stars against a long near-miss.
  std::string many_stars;
  for (int i = 0; i < 1000; i++) many_stars += "*a";
  many_stars += "*b";
  std::string subject(Glob::kMaxSubjectBytes - 1, 'a');
  std::string deep = "/";
  for (int i = 0; i < 500; i++) deep += "**/";
  deep += "x";
  std::string deep_subject;
  for (int i = 0; i < 2000; i++) deep_subject += "/a";

  auto start = std::chrono::steady_clock::now();
  auto stars = Glob::compile(many_stars, GlobMode::kName);
  ASSERT_TRUE(stars.ok());
  EXPECT_FALSE(stars->match(subject));
  auto globstars = Glob::compile(deep);
  ASSERT_TRUE(globstars.ok()) << globstars.error().message;
  EXPECT_FALSE(globstars->match(deep_subject));
  EXPECT_TRUE(globstars->match(deep_subject + "/x"));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 2000);
}

namespace {

// Independent reading of the documented semantics, as an ECMAScript regex.
std::string glob_to_regex(const std::string& p) {
  std::string re;
  size_t i = 0;
  while (i < p.size()) {
    if (p.compare(i, 3, "**/") == 0) {
      re += "(?:.*/)?";
      i += 3;
    } else if (p.compare(i, 3, "/**") == 0 && i + 3 == p.size()) {
      re += "(?:/.*)?";
      i += 3;
    } else if (p.compare(i, 2, "**") == 0) {
      re += ".*";
      i += 2;
    } else if (p[i] == '*') {
      re += "[^/]*";
      i++;
    } else if (p[i] == '?') {
      re += "[^/]";
      i++;
    } else {
      re += p[i] == '.' ? "\\." : std::string(1, p[i]);
      i++;
    }
  }
  return re;
}

}  // namespace

TEST(PolicyGlob, AgreesWithARegexReadingOnRandomCases) {
  uint64_t state = 0x9E3779B97F4A7C15ULL;
  auto next = [&](uint64_t n) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state % n;
  };
  const char* kPieces[] = {"a", "b", "*", "?", "ab"};
  int compared = 0, matched = 0;
  for (int round = 0; round < 3000; round++) {
    std::string p = next(4) == 0 ? "**" : "";
    size_t comps = 1 + next(4);
    for (size_t c = 0; c < comps; c++) {
      p += '/';
      if (next(4) == 0) {
        p += "**";
        continue;
      }
      size_t n = 1 + next(3);
      for (size_t k = 0; k < n; k++) {
        std::string piece = kPieces[next(5)];
        if (piece == "*" && !p.empty() && p.back() == '*') piece = "a";  // never "**" inside a component
        p += piece;
      }
    }
    auto g = Glob::compile(p);
    ASSERT_TRUE(g.ok()) << p << ": " << g.error().message;
    std::regex re(glob_to_regex(p));
    for (int s = 0; s < 20; s++) {
      std::string subject;
      size_t len = next(9);
      for (size_t k = 0; k < len; k++) subject += "ab/"[next(3)];
      ASSERT_EQ(g->match(subject), std::regex_match(subject, re)) << "pattern " << p << " subject " << subject;
      compared++;
      matched += g->match(subject) ? 1 : 0;
    }
  }
  EXPECT_EQ(compared, 60000);
  EXPECT_GT(matched, 1000) << "the generator must exercise matches, not only misses";
}
