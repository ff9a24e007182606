// ASCII lowering 16 bytes a step gives the byte loop's answer for every byte value, at every
// offset against the steps and in the tail; bytes outside A-Z (UTF-8 included) are kept.
#include <gtest/gtest.h>

#include <string>

#include "llm/text_util.h"

namespace rein::llm {
namespace {

TEST(TextUtil, LoweringMatchesTheByteLoopForEveryByte) {
  std::string out;
  for (size_t len : {0, 1, 15, 16, 17, 31, 32, 33, 50}) {
    for (int b = 0; b < 256; b++) {
      for (size_t at = 0; at < len; at++) {
        std::string s(len, 'Q');
        s[at] = char(b);
        std::string want = s;
        for (char& c : want) c = ascii_lower(c);
        to_lower_into(s, out);
        ASSERT_EQ(out, want) << "byte " << b << " at " << at << " of " << len;
      }
    }
  }
  EXPECT_EQ(to_lower("Hello, WORLD: Ünïcode stays @[`{"), "hello, world: Ünïcode stays @[`{");
  to_lower_into("a much longer string than the last one, IN CAPITALS", out);
  to_lower_into("Short", out);  // a kept buffer shrinks to the new text
  EXPECT_EQ(out, "short");
}

}  // namespace
}  // namespace rein::llm
