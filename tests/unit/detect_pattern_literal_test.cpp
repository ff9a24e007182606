// The literal screen in front of the secret scanner's Hyperscan pass answers exactly as the
// byte loop does: every literal at every offset of bodies of every length around the
// 32-byte blocks (including as the last bytes), near misses, and random text over the
// bytes the literals are made of.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/fast_find.h"
#include "detect/pattern_literal.h"

namespace rein::detect {
namespace {

const char* const kLiterals[] = {"sk-", "secret", "SeCrEt", "k_", "AIza", "AKIA", "ASIA",
                                 "gh", "github_pat_", "gsk_", "xox", "xai-", "hf_", "-----",
                                 "eyJ", "://", "@", "\\"};
// Each passes the screen's first-two-byte test (or looks close to it) and is no literal.
const char* const kNearMisses[] = {"sk+", "secre", "SK-", "K_", "aiza", "AKI", "gH", "gs_",
                                   "xo", "xa-", "hf", "----", "ey", ":/", "se", "ex"};

void expect_agree(const std::string& t) {
  const bool want = detail::has_pattern_literal_bytes(t);
  EXPECT_EQ(has_pattern_literal(t), want) << t;
  if (rein::detail::have_avx2()) EXPECT_EQ(detail::has_pattern_literal_avx2(t), want) << t;
}

TEST(PatternLiteral, EveryLiteralAtEveryOffsetIsFound) {
  for (size_t len : {0, 1, 31, 32, 33, 63, 64, 65, 96, 97, 130}) {
    const std::string filler(len, 'z');
    expect_agree(filler);
    EXPECT_FALSE(has_pattern_literal(filler));
    for (const char* lit : kLiterals) {
      const std::string l(lit);
      for (size_t at = 0; at + l.size() <= len; at++) {
        std::string t = filler;
        t.replace(at, l.size(), l);
        SCOPED_TRACE(testing::Message() << lit << " at " << at << " of " << len);
        EXPECT_TRUE(has_pattern_literal(t));
        expect_agree(t);
      }
    }
  }
}

TEST(PatternLiteral, NearMissesAreNotLiterals) {
  for (size_t len : {33, 64, 65, 100}) {
    for (const char* miss : kNearMisses) {
      const std::string m(miss);
      for (size_t at = 0; at + m.size() <= len; at++) {
        std::string t(len, 'z');
        t.replace(at, m.size(), m);
        SCOPED_TRACE(testing::Message() << miss << " at " << at << " of " << len);
        EXPECT_FALSE(has_pattern_literal(t));
        expect_agree(t);
      }
    }
  }
}

TEST(PatternLiteral, RandomTextOverTheLiteralsBytesAgrees) {
  const std::string alphabet = "sSkKAaIizgGhHxXoOeEyYfF-:/_@\\cCrRtTpPJ \"{}";
  std::mt19937 rng(11);
  size_t found = 0, total = 0;
  for (int round = 0; round < 20000; round++) {
    std::string t(rng() % 200, ' ');
    for (auto& c : t) c = alphabet[rng() % alphabet.size()];
    const bool want = detail::has_pattern_literal_bytes(t);
    found += want;
    total++;
    ASSERT_EQ(has_pattern_literal(t), want) << t;
    if (rein::detail::have_avx2()) ASSERT_EQ(detail::has_pattern_literal_avx2(t), want) << t;
  }
  // Both answers occur, or the comparison proved nothing.
  EXPECT_GT(found, total / 10);
  EXPECT_LT(found, total);
}

}  // namespace
}  // namespace rein::detect
