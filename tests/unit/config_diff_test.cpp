#include <gtest/gtest.h>

#include "pipeline/config_diff.h"

using rein::pipeline::DiffLimits;
using rein::pipeline::redact_config_line;
using rein::pipeline::unified_diff;

TEST(ConfigDiff, SmallEditIsAHunkWithContext) {
  std::string a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
  std::string b = "1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n";
  auto d = unified_diff(a, b);
  EXPECT_EQ(d.text, "@@ -3,7 +3,7 @@\n 3\n 4\n 5\n-6\n+six\n 7\n 8\n 9\n");
  EXPECT_EQ(d.lines_added, 1u);
  EXPECT_EQ(d.lines_removed, 1u);
  EXPECT_FALSE(d.truncated);
  EXPECT_FALSE(d.approximate);
}

TEST(ConfigDiff, AppendCreateAndDelete) {
  auto d = unified_diff("a\nb\n", "a\nb\nc\n");
  EXPECT_EQ(d.text, "@@ -1,2 +1,3 @@\n a\n b\n+c\n");
  auto c = unified_diff("", "x\ny\n");
  EXPECT_EQ(c.text, "@@ -0,0 +1,2 @@\n+x\n+y\n");
  auto r = unified_diff("x\n", "");
  EXPECT_EQ(r.text, "@@ -1,1 +0,0 @@\n-x\n");
  auto same = unified_diff("x\ny\n", "x\ny\n");
  EXPECT_EQ(same.text, "");
  EXPECT_EQ(same.lines_added + same.lines_removed, 0u);
}

TEST(ConfigDiff, SeparateChangesAreSeparateHunks) {
  std::string a, b;
  for (int i = 0; i < 40; i++) {
    a += std::to_string(i) + "\n";
    b += (i == 5 || i == 30 ? "x" + std::to_string(i) : std::to_string(i)) + "\n";
  }
  auto d = unified_diff(a, b);
  EXPECT_EQ(std::count(d.text.begin(), d.text.end(), '@'), 8) << d.text;  // two headers
  EXPECT_EQ(d.lines_added, 2u);
  EXPECT_EQ(d.lines_removed, 2u);
}

TEST(ConfigDiff, MinimalForInterleavedEdits) {
  auto d = unified_diff("a\nb\nc\nd\ne\n", "a\nc\nd\nX\ne\n");
  EXPECT_EQ(d.lines_removed, 1u);  // b
  EXPECT_EQ(d.lines_added, 1u);    // X
}

TEST(ConfigDiff, BoundedInLinesAndBytesButCountsStayComplete) {
  std::string b;
  for (int i = 0; i < 5000; i++) b += "line " + std::to_string(i) + "\n";
  DiffLimits lim;
  lim.max_lines = 50;
  auto d = unified_diff("", b, lim);
  EXPECT_TRUE(d.truncated);
  EXPECT_EQ(std::count(d.text.begin(), d.text.end(), '\n'), 50);
  EXPECT_EQ(d.lines_added, 5000u);
  lim.max_lines = 100000;
  lim.max_bytes = 1000;
  auto e = unified_diff("", b, lim);
  EXPECT_TRUE(e.truncated);
  EXPECT_LE(e.text.size(), 1000u);
  std::string longline(10000, 'x');
  auto f = unified_diff("", longline + "\n");
  EXPECT_LT(f.text.size(), 700u);
  EXPECT_NE(f.text.find("[line cut]"), std::string::npos);
}

TEST(ConfigDiff, TooManyEditsGiveABlockReplacement) {
  std::string a, b;
  for (int i = 0; i < 3000; i++) {
    a += "a" + std::to_string(i) + "\n";
    b += "b" + std::to_string(i) + "\n";
  }
  DiffLimits lim;
  lim.max_edit_distance = 100;
  auto d = unified_diff(a, b, lim);
  EXPECT_TRUE(d.approximate);
  EXPECT_EQ(d.lines_added, 3000u);
  EXPECT_EQ(d.lines_removed, 3000u);
}

TEST(ConfigDiff, SecretsAreRedactedInEveryLine) {
  const std::string key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";
  auto d = unified_diff("name = x\n",
                        "name = x\nOPENAI_API_KEY=hunter2hunter2\nexport TOKEN=\"abc def\"\n"
                        "curl -H 'Authorization: Bearer eyJhbGciOi.abc.def'\n"
                        "  \"password\": \"pw123\",\nkey " + key + "\nplain = ok\n");
  EXPECT_EQ(d.text.find("hunter2"), std::string::npos) << d.text;
  EXPECT_EQ(d.text.find("abc def"), std::string::npos) << d.text;
  EXPECT_EQ(d.text.find("eyJhbGciOi"), std::string::npos) << d.text;
  EXPECT_EQ(d.text.find("pw123"), std::string::npos) << d.text;
  EXPECT_EQ(d.text.find(key), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("+plain = ok"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("+OPENAI_API_KEY=[redacted]"), std::string::npos) << d.text;
  EXPECT_EQ(d.redactions, 5u);
  bool changed = true;
  EXPECT_EQ(redact_config_line("just words", &changed), "just words");
  EXPECT_FALSE(changed);
  // URL passwords (git remotes, database URLs) and cookies.
  EXPECT_EQ(redact_config_line("\turl = https://alice:hunter2@git.example.com/r.git", &changed),
            "\turl = https://alice:[redacted]@git.example.com/r.git");
  EXPECT_TRUE(changed);
  EXPECT_EQ(redact_config_line("  \"args\": [\"postgresql://app:pw0rd@db:5432/app\"],", &changed),
            "  \"args\": [\"postgresql://app:[redacted]@db:5432/app\"],");
  EXPECT_EQ(redact_config_line("\"Cookie\": \"sid=abc\"", &changed), "\"Cookie\": [redacted]");
  EXPECT_EQ(redact_config_line("url = https://git.example.com/r.git", &changed),
            "url = https://git.example.com/r.git");
  EXPECT_FALSE(changed);
}
