#include "llm/cost.h"

#include <gtest/gtest.h>

namespace {

using rein::llm::compute_cost;
using rein::llm::LlmCall;
using rein::llm::LlmUsage;
using rein::llm::ModelPrice;
using rein::llm::price_call;
using rein::llm::PriceTable;
using rein::llm::total_input_tokens;

ModelPrice price(double in, double out, std::optional<double> cr = std::nullopt,
                 std::optional<double> cw5 = std::nullopt, std::optional<double> cw1h = std::nullopt) {
  ModelPrice p;
  p.model = "test-model";
  p.base.input = in;
  p.base.output = out;
  p.base.cache_read = cr;
  p.base.cache_write_5m = cw5;
  p.base.cache_write_1h = cw1h;
  return p;
}

LlmUsage usage(int64_t in, int64_t out, std::optional<int64_t> cr = std::nullopt,
               std::optional<int64_t> cw = std::nullopt, std::optional<int64_t> cw1h = std::nullopt) {
  LlmUsage u;
  u.input_tokens = in;
  u.output_tokens = out;
  u.cache_read_input_tokens = cr;
  u.cache_creation_input_tokens = cw;
  u.cache_creation_1h_input_tokens = cw1h;
  return u;
}

TEST(LlmCost, OpenAICachedTokensAreInsideInput) {
  // gpt-4o: 2.50 in, 10.00 out, 1.25 cached. 1200 prompt of which 1024 cached, 300 out.
  auto r = compute_cost(usage(1200, 300, 1024), /*cache_inside=*/true, true, price(2.50, 10.00, 1.25));
  ASSERT_TRUE(r.usd);
  EXPECT_NEAR(*r.usd, (176 * 2.50 + 1024 * 1.25 + 300 * 10.00) / 1e6, 1e-12);
  EXPECT_NEAR(*r.usd, 0.00472, 1e-12);
}

TEST(LlmCost, DeepSeekHitMissSplit) {
  // deepseek-chat: 0.28 miss, 0.028 hit, 0.42 out. prompt 10000 = 6400 hit + 3600 miss.
  auto r = compute_cost(usage(10000, 2000, 6400), true, true, price(0.28, 0.42, 0.028));
  ASSERT_TRUE(r.usd);
  EXPECT_NEAR(*r.usd, (3600 * 0.28 + 6400 * 0.028 + 2000 * 0.42) / 1e6, 1e-12);
}

TEST(LlmCost, GeminiThoughtsBilledAsOutput) {
  // gemini-2.5-pro: 1.25 in, 10 out, 0.125 cached. prompt 12000 (8000 cached),
  // candidates 400 + thoughts 1200 -> output_tokens 1600.
  auto r = compute_cost(usage(12000, 400 + 1200, 8000), true, true, price(1.25, 10.00, 0.125));
  ASSERT_TRUE(r.usd);
  EXPECT_NEAR(*r.usd, (4000 * 1.25 + 8000 * 0.125 + 1600 * 10.0) / 1e6, 1e-12);
}

TEST(LlmCost, AnthropicCacheCountsAreOutsideInput) {
  // claude-sonnet-4-5: 3 in, 15 out, 0.30 read, 3.75 write 5m, 6.00 write 1h.
  // 2095 uncached input, 2051 written (400 of them 1h), 10000 read, 503 out.
  auto r = compute_cost(usage(2095, 503, 10000, 2051, 400), /*cache_inside=*/false, true,
                        price(3.0, 15.0, 0.30, 3.75, 6.00));
  ASSERT_TRUE(r.usd);
  EXPECT_NEAR(*r.usd, (2095 * 3.0 + 1651 * 3.75 + 400 * 6.00 + 10000 * 0.30 + 503 * 15.0) / 1e6, 1e-12);
}

TEST(LlmCost, BedrockConverseSameArithmeticAsAnthropic) {
  // anthropic.claude-3-5-haiku on Bedrock: 0.80 in, 4.00 out, 0.08 read, 1.00 write.
  auto r = compute_cost(usage(1500, 200, 4000, 1000), false, true, price(0.80, 4.00, 0.08, 1.00));
  ASSERT_TRUE(r.usd);
  EXPECT_NEAR(*r.usd, (1500 * 0.80 + 4000 * 0.08 + 1000 * 1.00 + 200 * 4.00) / 1e6, 1e-12);
}

TEST(LlmCost, LongContextTierAppliesToWholeRequest) {
  ModelPrice p = price(1.25, 10.0, 0.125);
  p.long_context_above_input_tokens = 200000;
  p.long_context.input = 2.50;
  p.long_context.output = 15.0;
  p.long_context.cache_read = 0.25;
  auto below = compute_cost(usage(200000, 10, 0), true, true, p);
  EXPECT_NEAR(*below.usd, (200000 * 1.25 + 10 * 10.0) / 1e6, 1e-12);
  auto above = compute_cost(usage(250000, 1000, 50000), true, true, p);
  EXPECT_NEAR(*above.usd, (200000 * 2.50 + 50000 * 0.25 + 1000 * 15.0) / 1e6, 1e-12);
  EXPECT_NE(above.note.find("long-context"), std::string::npos);
  // Anthropic: the threshold counts cache reads and writes too.
  ModelPrice a = price(3.0, 15.0, 0.30, 3.75, 6.0);
  a.long_context_above_input_tokens = 200000;
  a.long_context.input = 6.0;
  a.long_context.output = 22.5;
  auto anth = compute_cost(usage(1000, 100, 199500), false, true, a);
  EXPECT_NEAR(*anth.usd, (1000 * 6.0 + 199500 * 0.30 + 100 * 22.5) / 1e6, 1e-12);
}

TEST(LlmCost, MissingCachePricesFallBackAndSaySo) {
  auto r = compute_cost(usage(1000, 10, 500), true, true, price(1.0, 2.0));
  ASSERT_TRUE(r.usd);
  EXPECT_NEAR(*r.usd, (1000 * 1.0 + 10 * 2.0) / 1e6, 1e-12);
  EXPECT_NE(r.note.find("no cache_read price"), std::string::npos);
}

TEST(LlmCost, InconsistentOrMissingUsageIsNotPriced) {
  EXPECT_FALSE(compute_cost(usage(100, 10, 500), true, true, price(1, 1, 1)).usd);
  LlmUsage no_out;
  no_out.input_tokens = 10;
  EXPECT_FALSE(compute_cost(no_out, true, /*needs_output=*/true, price(1, 1)).usd);
  auto emb = compute_cost(no_out, true, /*needs_output=*/false, price(0.02, 0));
  ASSERT_TRUE(emb.usd);
  EXPECT_NEAR(*emb.usd, 10 * 0.02 / 1e6, 1e-15);
  EXPECT_FALSE(compute_cost(LlmUsage{}, true, false, price(1, 1)).usd);
}

PriceTable small_table() {
  auto t = PriceTable::parse(
      R"({"models":[{"model":"gpt-4o","input":2.5,"output":10,"cache_read":1.25},
                    {"model":"claude-haiku-4-5","input":1,"output":5,"cache_read":0.1,"cache_write_5m":1.25,"cache_write_1h":2}],
          "provider_defaults":[{"provider":"ollama","input":0,"output":0}]})",
      "t.json");
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

TEST(LlmCost, PriceCallPrefersResponseModelThenRequestModel) {
  PriceTable t = small_table();
  LlmCall c;
  c.api = "openai.chat";
  c.operation = "chat";
  c.status = 200;
  c.request_model = "my-azure-deployment";
  c.response_model = "gpt-4o-2024-08-06";
  c.usage = usage(1000, 100, 0);
  price_call(c, t);
  ASSERT_TRUE(c.cost_usd);
  EXPECT_NEAR(*c.cost_usd, (1000 * 2.5 + 100 * 10) / 1e6, 1e-12);
  EXPECT_NE(c.cost_note.find("gpt-4o"), std::string::npos);

  c.response_model = "unknown-snapshot";
  c.request_model = "gpt-4o";
  price_call(c, t);
  ASSERT_TRUE(c.cost_usd);

  c.response_model = "mystery";
  c.request_model = "mystery-2";
  c.cost_usd.reset();
  price_call(c, t);
  EXPECT_FALSE(c.cost_usd);
  EXPECT_EQ(c.cost_note, "unknown model mystery");
}

TEST(LlmCost, PriceCallAnthropicUsesApiAccounting) {
  PriceTable t = small_table();
  LlmCall c;
  c.api = "anthropic.messages";
  c.operation = "chat";
  c.status = 200;
  c.response_model = "claude-haiku-4-5-20251001";
  c.usage = usage(100, 50, 1000, 200, 200);
  price_call(c, t);
  ASSERT_TRUE(c.cost_usd);
  EXPECT_NEAR(*c.cost_usd, (100 * 1.0 + 1000 * 0.1 + 200 * 2.0 + 50 * 5.0) / 1e6, 1e-12);
  EXPECT_EQ(total_input_tokens(c), 1300);
  c.api = "openai.chat";
  EXPECT_EQ(total_input_tokens(c), 100);
}

TEST(LlmCost, PriceCallSpecialCases) {
  PriceTable t = small_table();
  LlmCall missing;
  missing.status = 200;
  missing.response_model = "gpt-4o";
  missing.usage_missing = true;
  missing.usage_note = "stream ended before usage";
  price_call(missing, t);
  EXPECT_FALSE(missing.cost_usd);
  EXPECT_NE(missing.cost_note.find("stream ended before usage"), std::string::npos);

  LlmCall rejected;
  rejected.status = 429;
  rejected.usage_missing = true;
  price_call(rejected, t);
  ASSERT_TRUE(rejected.cost_usd);
  EXPECT_EQ(*rejected.cost_usd, 0.0);

  LlmCall reported;
  reported.status = 200;
  reported.response_model = "gpt-4o";
  reported.usage = usage(1000, 100);
  reported.reported_cost_usd = 0.0123;
  price_call(reported, t);
  EXPECT_DOUBLE_EQ(*reported.cost_usd, 0.0123);

  LlmCall local;
  local.status = 200;
  local.provider = "ollama";
  local.api = "ollama";
  local.operation = "chat";
  local.response_model = "llama3.2";
  local.usage = usage(26, 282);
  price_call(local, t);
  ASSERT_TRUE(local.cost_usd);
  EXPECT_EQ(*local.cost_usd, 0.0);
}

}  // namespace
