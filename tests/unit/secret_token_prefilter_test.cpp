// secret_token_may_have_class is the scrubber's pre-filter: it may let words through, but
// never a token secret_token_class would classify.
#include <gtest/gtest.h>

#include <string>

#include "common/secret_redaction.h"

namespace rein {
namespace {

TEST(SecretTokenPrefilter, NeverHidesAClassedToken) {
  // Every two-byte start, followed by each prefix's possible continuations and a long tail.
  const char* tails[] = {
      "",     "-",     "_",        ".",      "ant-api03-", "ant-oat01-", "ant-admin01-",
      "ant-", "proj-", "svcacct-", "admin-", "or-v1-",     "za",         "29.",
      "SK",   "IA",    "k_",       "i-",     "thub_pat_",  "p_",         "o_",
      "s_",   "u_",    "r_",       "xb-",    "xp-",        "xa-",        "xe-",
      "xr-",  "xs-",   "pp-",      "J"};
  size_t classed = 0;
  for (int a = 33; a < 127; a++) {  // prefixes are printable ASCII
    for (int b = 33; b < 127; b++) {
      for (const char* t : tails) {
        std::string tok{char(a), char(b)};
        tok += t;
        tok += "Abcdefgh1234567890";
        if (secret_token_class(tok).empty()) continue;
        classed++;
        EXPECT_TRUE(secret_token_may_have_class(tok)) << tok;
      }
    }
  }
  EXPECT_GE(classed, 20u);  // the loop did reach the prefixes
}

TEST(SecretTokenPrefilter, SkipsWordsAndShortTokens) {
  EXPECT_FALSE(secret_token_may_have_class("stream_options"));
  EXPECT_FALSE(secret_token_may_have_class("system_fingerprint"));
  EXPECT_FALSE(secret_token_may_have_class("chat.completion.chunk"));
  EXPECT_FALSE(secret_token_may_have_class("sk-short"));
  EXPECT_TRUE(secret_token_may_have_class("sk-proj-Abcdefgh12345678"));
  EXPECT_TRUE(secret_token_may_have_class("eyJhbGciOiJIUzI1NiJ9"));
}

}  // namespace
}  // namespace rein
