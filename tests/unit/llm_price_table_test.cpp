#include "llm/price_table.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "llm_fixture_util.h"

namespace {

using rein::llm::is_version_suffix;
using rein::llm::PriceTable;

PriceTable shipped() {
  auto t = PriceTable::load_file(rein::test::source_dir() + "/data/prices.json");
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return t.ok() ? std::move(t).value() : PriceTable();
}

std::string key_for(const PriceTable& t, const std::string& model) {
  std::string matched;
  const auto* p = t.find(model, &matched);
  if (p == nullptr) return "<none>";
  EXPECT_EQ(p->model, matched) << model;
  return p->model;
}

TEST(LlmPriceTable, ShippedTableLoadsWithEnoughModels) {
  PriceTable t = shipped();
  EXPECT_GE(t.size(), 40u);
  const auto* p = t.find("gpt-4o");
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(*p->base.input, 2.50);
  EXPECT_DOUBLE_EQ(*p->base.output, 10.00);
  EXPECT_DOUBLE_EQ(*p->base.cache_read, 1.25);
  const auto* c = t.find("claude-sonnet-4-5");
  ASSERT_NE(c, nullptr);
  EXPECT_DOUBLE_EQ(*c->base.cache_write_5m, 3.75);
  EXPECT_DOUBLE_EQ(*c->base.cache_write_1h, 6.00);
  ASSERT_TRUE(c->long_context_above_input_tokens);
  EXPECT_EQ(*c->long_context_above_input_tokens, 200000);
  ASSERT_NE(t.provider_default("ollama"), nullptr);
  EXPECT_DOUBLE_EQ(*t.provider_default("ollama")->base.input, 0.0);
}

TEST(LlmPriceTable, DatedSnapshotsAndRoutingPrefixes) {
  PriceTable t = shipped();
  EXPECT_EQ(key_for(t, "gpt-4o-2024-08-06"), "gpt-4o");
  EXPECT_EQ(key_for(t, "GPT-4o"), "gpt-4o");
  EXPECT_EQ(key_for(t, "gpt-4o-mini"), "gpt-4o-mini");
  EXPECT_EQ(key_for(t, "gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
  EXPECT_EQ(key_for(t, "gpt-5-mini-2025-08-07"), "gpt-5-mini");
  EXPECT_EQ(key_for(t, "gpt-5.1-2025-11-13"), "gpt-5.1");
  EXPECT_EQ(key_for(t, "o3-2025-04-16"), "o3");
  EXPECT_EQ(key_for(t, "o3-mini-2025-01-31"), "o3-mini");
  EXPECT_EQ(key_for(t, "claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
  EXPECT_EQ(key_for(t, "claude-sonnet-4-20250514"), "claude-sonnet-4");
  EXPECT_EQ(key_for(t, "claude-opus-4-1-20250805"), "claude-opus-4-1");
  EXPECT_EQ(key_for(t, "claude-haiku-4-5-20251001"), "claude-haiku-4-5");
  EXPECT_EQ(key_for(t, "claude-sonnet-4-5@20250929"), "claude-sonnet-4-5");
  EXPECT_EQ(key_for(t, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"), "claude-sonnet-4-5");
  EXPECT_EQ(key_for(t, "anthropic.claude-3-5-haiku-20241022-v1:0"), "anthropic.claude-3-5-haiku-20241022-v1:0");
  EXPECT_EQ(key_for(t, "eu.anthropic.claude-3-5-haiku-20241022-v1:0"), "anthropic.claude-3-5-haiku-20241022-v1:0");
  EXPECT_EQ(key_for(t, "models/gemini-2.5-flash"), "gemini-2.5-flash");
  EXPECT_EQ(key_for(t, "gemini-2.5-flash-001"), "gemini-2.5-flash");
  EXPECT_EQ(key_for(t, "openai/gpt-4o"), "gpt-4o");
  EXPECT_EQ(key_for(t, "anthropic/claude-sonnet-4.5"), "claude-sonnet-4-5");
  EXPECT_EQ(key_for(t, "openai/gpt-oss-120b"), "openai/gpt-oss-120b");
  EXPECT_EQ(key_for(t, "gpt-4.1-nano-2025-04-14"), "gpt-4.1-nano");
}

TEST(LlmPriceTable, NeverMatchesADifferentModelSharingAPrefix) {
  PriceTable t = shipped();
  for (const char* m : {"gpt-4o-mini-search-preview", "gpt-4o-audio-preview", "gpt-4", "o3-pro", "gpt-5-codex",
                        "claude-sonnet-4-5-haiku", "gemini-2.5-flash-preview-05-20", "gpt-4o-2024", "", "   ",
                        "gpt-4o-", "-2024-08-06", "claude-opus-4-9"}) {
    EXPECT_EQ(key_for(t, m), "<none>") << m;
  }
}

TEST(LlmPriceTable, VersionSuffixGrammar) {
  for (const char* s : {"2024-08-06", "20250929", "0613", "001", "v1:0", "20241022-v2:0", "latest", "v2@20241022"}) {
    EXPECT_TRUE(is_version_suffix(s)) << s;
  }
  for (const char* s : {"", "mini", "2024", "1340", "mini-2024-07-18", "preview", "2024-08", "1", "12", "v", "va", "2024-08-06x",
                        "v1:", "-"}) {
    EXPECT_FALSE(is_version_suffix(s)) << s;
  }
}

TEST(LlmPriceTable, LoaderErrorsNameFileAndField) {
  struct Case {
    const char* json;
    const char* expect;
  };
  const Case cases[] = {
      {R"({"models":[{"model":"a","output":1}]})", "mem.json: models[0].input: missing"},
      {R"({"models":[{"model":"a","input":1,"output":1},{"model":"b","input":-1,"output":1}]})",
       "mem.json: models[1].input: expected a non-negative number"},
      {R"({"models":[{"model":"a","input":"cheap","output":1}]})", "models[0].input: expected a non-negative number"},
      {R"({"models":[{"model":"a","input":1,"output":1,"cache_reed":1}]})", "models[0].cache_reed: unknown field"},
      {R"({"models":[{"input":1,"output":1}]})", "models[0].model: missing model name"},
      {R"({"models":{}})", "models: expected an array"},
      {R"({"models":[{"model":"a","input":1,"output":1,"aliases":[3]}]})", "models[0].aliases[0]"},
      {R"({"models":[{"model":"a","input":1,"output":1,"long_context":{"input":2}}]})",
       "models[0].long_context.above_input_tokens"},
      {R"({"unit":"usd_per_token","models":[]})", "mem.json: unit"},
      {R"({"models":[ )", "mem.json: document: not valid JSON"},
      {R"({"model":[]})", "top level.model: unknown field"},
      {R"({"provider_defaults":[{"input":0,"output":0}]})", "provider_defaults[0].provider"},
  };
  for (const auto& c : cases) {
    auto t = PriceTable::parse(c.json, "mem.json");
    ASSERT_FALSE(t.ok()) << c.json;
    EXPECT_NE(t.error().message.find(c.expect), std::string::npos) << t.error().message;
  }
  // syntax errors name the line and column where the document goes wrong
  const Case syntax[] = {
      {"{\n  \"models\": [\n    {\"model\": \"a\", \"input\": 1 \"output\": 1}\n  ]\n}",
       "mem.json: document: not valid JSON: line 3, column 31:"},
      {"{\"models\": [],}", "not valid JSON: line 1, column 15:"},
      {"{\"models\": [tru]}", "not valid JSON: line 1, column 13:"},
      {"{\"models\": []} x", "not valid JSON: line 1, column 16:"},
      {"{\"models\": [\"a]}", "not valid JSON: "},  // an unclosed string: no position
  };
  for (const auto& c : syntax) {
    auto t = PriceTable::parse(c.json, "mem.json");
    ASSERT_FALSE(t.ok()) << c.json;
    EXPECT_NE(t.error().message.find(c.expect), std::string::npos) << t.error().message;
  }
  auto missing = PriceTable::load_file("/nonexistent/prices.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/prices.json"), std::string::npos);
}

TEST(LlmPriceTable, OverrideMergesOnTop) {
  auto t = PriceTable::parse(
      R"({"models":[{"model":"gpt-4o","provider":"openai","input":2.5,"output":10,"cache_read":1.25,"aliases":["chatgpt-4o"]},
                    {"model":"m2","input":1,"output":2}]})",
      "base.json");
  ASSERT_TRUE(t.ok());
  auto r = t->merge(R"({"models":[{"model":"GPT-4o","input":2.0,"output":8.0},
                                   {"model":"my-finetune","input":3,"output":12,"aliases":["ft:my-finetune"]}]})",
                    "override.json");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(t->size(), 3u);
  EXPECT_DOUBLE_EQ(*t->find("gpt-4o-2024-08-06")->base.input, 2.0);
  EXPECT_FALSE(t->find("gpt-4o")->base.cache_read.has_value());  // whole row replaced
  EXPECT_DOUBLE_EQ(*t->find("chatgpt-4o")->base.input, 2.0);     // old alias follows the row
  EXPECT_DOUBLE_EQ(*t->find("ft:my-finetune")->base.output, 12.0);
  // A failing override leaves the table as it was.
  auto bad = t->merge(R"({"models":[{"model":"m2","input":9,"output":9},{"model":"x"}]})", "bad.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_DOUBLE_EQ(*t->find("m2")->base.input, 1.0);
}

// find() remembers its answers by name: asked again (hits), after a merge (which must forget
// them) and in a copy of the table (whose answers must point into the copy), each answer is
// what a fresh table gives.
TEST(LlmPriceTable, RememberedAnswersStayTrueAcrossMergesAndCopies) {
  PriceTable fresh = shipped();
  PriceTable t = shipped();
  const char* names[] = {"gpt-4o-mini-2024-07-18", "GPT-4o", "openai/gpt-4o", "gpt-4o-audio-preview",
                         "claude-sonnet-4-5@20250929", "", "gpt-4o-mini-2024-07-18"};
  for (int pass = 0; pass < 2; pass++) {
    for (const char* m : names) {
      std::string want_as = "untouched", got_as = "untouched";
      const auto* want = fresh.find(m, &want_as);
      const auto* got = t.find(m, &got_as);
      ASSERT_EQ(got == nullptr, want == nullptr) << m;
      if (got) EXPECT_EQ(got->model, want->model) << m;
      EXPECT_EQ(got_as, want_as) << m;  // a miss leaves matched_as alone
    }
  }
  ASSERT_DOUBLE_EQ(*t.find("gpt-4o-2024-08-06")->base.input, 2.50);
  ASSERT_TRUE(t.merge(R"({"models":[{"model":"gpt-4o","input":2.0,"output":8.0},
                                    {"model":"gpt-4o-audio-preview","input":5,"output":20}]})",
                      "override.json")
                  .ok());
  EXPECT_DOUBLE_EQ(*t.find("gpt-4o-2024-08-06")->base.input, 2.0);
  ASSERT_NE(t.find("gpt-4o-audio-preview"), nullptr);  // a remembered miss is forgotten too
  PriceTable copy = t;
  const auto* in_copy = copy.find("gpt-4o-2024-08-06");
  ASSERT_NE(in_copy, nullptr);
  EXPECT_NE(in_copy, t.find("gpt-4o-2024-08-06"));  // the copy's own row, not the original's
  EXPECT_DOUBLE_EQ(*in_copy->base.input, 2.0);
  // Names beyond the memo's bound still get true answers.
  for (int i = 0; i < 600; i++) {
    const std::string m = "unknown-model-" + std::to_string(i);
    EXPECT_EQ(t.find(m), nullptr) << m;
  }
  EXPECT_DOUBLE_EQ(*t.find("gpt-4o-mini-2024-07-18")->base.input, *fresh.find("gpt-4o-mini")->base.input);
}

TEST(LlmPriceTable, LoadWithOverrideFile) {
  char path[] = "/tmp/rein_prices_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << R"({"unit":"usd_per_1m_tokens","models":[{"model":"llama3.2","provider":"ollama","input":0.01,"output":0.02}]})";
  auto t = PriceTable::load(rein::test::source_dir() + "/data/prices.json", path);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_DOUBLE_EQ(*t->find("llama3.2")->base.output, 0.02);
  EXPECT_NE(t->find("gpt-4o"), nullptr);
  std::ofstream(path) << R"({"models":[{"model":"x","input":1}]})";
  auto bad = PriceTable::load(rein::test::source_dir() + "/data/prices.json", path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(path), std::string::npos);
  unlink(path);
}

}  // namespace

// A price path that is not a regular file says what it is (a directory read as a stream
// looked "larger than 16 MiB"; a FIFO would block).
TEST(LlmPriceTable, LoadFileRefusesWhatIsNotARegularFile) {
  auto dir = rein::llm::PriceTable::load_file("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().message, "/tmp: is a directory");
  auto missing = rein::llm::PriceTable::load_file("/nonexistent/prices.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "/nonexistent/prices.json: cannot open: No such file or directory");
  auto empty = rein::llm::PriceTable::load_file("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, "price table: empty path");
}

// A provider name the sensor never uses would price nothing: refused, as is a non-string.
TEST(LlmPriceTable, UnknownOrMistypedProvidersAreErrors) {
  auto bad = rein::llm::PriceTable::parse(
      R"({"models":[],"provider_defaults":[{"provider":"olama","input":0,"output":0}]})", "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("provider_defaults[0].provider"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("unknown provider 'olama'"), std::string::npos) << bad.error().message;
  auto num = rein::llm::PriceTable::parse(R"({"models":[{"model":"m","provider":5,"input":1,"output":1}]})", "p.json");
  ASSERT_FALSE(num.ok());
  EXPECT_NE(num.error().message.find("models[0].provider"), std::string::npos) << num.error().message;
  auto ok = rein::llm::PriceTable::parse(
      R"({"models":[{"model":"m","provider":"openai","input":1,"output":1}],)"
      R"("provider_defaults":[{"provider":"ollama","input":0,"output":0}]})", "p.json");
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}
