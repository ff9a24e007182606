// End-to-end usage extraction and pricing over recorded-shape fixture bodies for every
// provider, through llm::analyze(). Expected dollars are computed here from the per-1M
// prices in data/prices.json.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

#include "llm/llm_analyzer.h"
#include "llm_fixture_util.h"

namespace {

using rein::llm::analyze;
using rein::llm::ExtractStats;
using rein::llm::Fingerprinter;
using rein::llm::LlmCall;
using rein::llm::PriceTable;
using rein::test::ExchangeSpec;
using rein::test::make_exchange;
using rein::test::read_fixture;

const PriceTable& prices() {
  static const PriceTable t = [] {
    auto r = PriceTable::load_file(rein::test::source_dir() + "/data/prices.json");
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::move(r).value() : PriceTable();
  }();
  return t;
}

const Fingerprinter& fingerprinter() {
  static const Fingerprinter f(std::array<uint8_t, 32>{7});
  return f;
}

LlmCall run(const ExchangeSpec& spec, ExtractStats* stats = nullptr) {
  auto call = analyze(make_exchange(spec), prices(), fingerprinter(), stats);
  EXPECT_TRUE(call.has_value());
  return call.value_or(LlmCall{});
}

const std::vector<rein::proto::HttpHeader> kSse = {{"content-type", "text/event-stream; charset=utf-8"}};
const std::vector<rein::proto::HttpHeader> kJson = {{"content-type", "application/json"}};

TEST(LlmUsageOpenAI, ChatNonStream) {
  ExchangeSpec s;
  s.req_headers = {{"authorization", "Bearer sk-proj-AAAABBBBCCCCDDDD"}};
  s.req_body = R"({"messages":[{"role":"user","content":"hi \"model\": no"}],"model":"gpt-4o"})";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("openai_chat_nonstream.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "openai");
  EXPECT_EQ(c.operation, "chat");
  EXPECT_EQ(c.api, "openai.chat");
  EXPECT_EQ(c.request_model, "gpt-4o");
  EXPECT_EQ(c.response_model, "gpt-4o-2024-08-06");
  EXPECT_EQ(c.response_id, "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
  EXPECT_FALSE(c.stream);
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.usage.input_tokens, 1200);
  EXPECT_EQ(c.usage.output_tokens, 300);
  EXPECT_EQ(c.usage.cache_read_input_tokens, 1024);
  EXPECT_EQ(c.usage.reasoning_tokens, 0);
  EXPECT_FALSE(c.usage.cache_creation_input_tokens);
  ASSERT_TRUE(c.cost_usd) << c.cost_note;
  EXPECT_NEAR(*c.cost_usd, ((1200 - 1024) * 2.50 + 1024 * 1.25 + 300 * 10.00) / 1e6, 1e-12);
  EXPECT_EQ(c.status, 200);
  EXPECT_NEAR(*c.latency_ms, 2500.0, 1e-9);
  EXPECT_FALSE(c.ttft_ms);  // not a stream
  EXPECT_EQ(c.api_key_class, "sk-proj");
  EXPECT_EQ(c.api_key_fingerprint.rfind("sk-proj:", 0), 0u);
  EXPECT_EQ(c.api_key_fingerprint.find("AAAABBBB"), std::string::npos);
  EXPECT_FALSE(c.error_type);
}

TEST(LlmUsageOpenAI, ChatStreamWithIncludeUsage) {
  ExchangeSpec s;
  s.req_body = R"({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]})";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("openai_chat_stream_usage.sse");
  LlmCall c = run(s);
  EXPECT_TRUE(c.stream);
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.response_model, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(c.usage.input_tokens, 2000);
  EXPECT_EQ(c.usage.output_tokens, 50);
  EXPECT_EQ(c.usage.cache_read_input_tokens, 1536);
  ASSERT_TRUE(c.cost_usd);
  EXPECT_NEAR(*c.cost_usd, ((2000 - 1536) * 0.15 + 1536 * 0.075 + 50 * 0.60) / 1e6, 1e-12);
  ASSERT_TRUE(c.ttft_ms);
  EXPECT_NEAR(*c.ttft_ms, 350.0, 1e-9);
}

TEST(LlmUsageOpenAI, ChatStreamWithoutIncludeUsageIsMissingNotZero) {
  ExchangeSpec s;
  s.req_body = R"({"model":"gpt-4o-mini","stream":true,"messages":[]})";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("openai_chat_stream_nousage.sse");
  LlmCall c = run(s);
  EXPECT_TRUE(c.stream);
  EXPECT_TRUE(c.usage_missing);
  EXPECT_EQ(c.usage_note, "no include_usage requested");
  EXPECT_FALSE(c.usage.input_tokens);
  EXPECT_FALSE(c.usage.output_tokens);
  EXPECT_FALSE(c.cost_usd);
  EXPECT_EQ(c.response_model, "gpt-4o-mini-2024-07-18");
}

TEST(LlmUsageOpenAI, ChatStreamCutShort) {
  ExchangeSpec s;
  s.req_body = R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}})";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("openai_chat_stream_cut.sse");
  s.complete = false;
  ExtractStats stats;
  LlmCall c = run(s, &stats);
  EXPECT_TRUE(c.usage_missing);
  EXPECT_EQ(c.usage_note, "stream ended before usage");
  EXPECT_FALSE(c.usage.input_tokens);
  EXPECT_FALSE(c.cost_usd);
  EXPECT_EQ(stats.json_docs, 3u);     // request + two complete chunks
  EXPECT_EQ(stats.json_invalid, 1u);  // the torn last chunk
}

// A body that is not one JSON document is counted once, whatever the JSON-lines fallback
// then finds: one torn document is one invalid body; JSON lines sent as application/json
// count only their bad lines.
TEST(LlmUsageOpenAI, OneVerdictPerUnframedBody) {
  ExchangeSpec s;
  s.req_body = R"({"model":"gpt-4o"})";
  s.resp_headers = kJson;
  s.resp_body = R"({"id":"x","usage":{"prompt_tokens":1)";
  ExtractStats torn;
  run(s, &torn);
  EXPECT_EQ(torn.json_invalid, 1u);
  s.resp_body = "{\"a\":1}\n{\"b\":2}\n{torn\n";
  ExtractStats lines;
  run(s, &lines);
  EXPECT_EQ(lines.json_invalid, 1u);  // the third line
  EXPECT_EQ(lines.json_docs, 3u);     // request + two lines
  s.resp_body = "{\"a\":1}\n{\"b\":2}\n";
  ExtractStats good;
  run(s, &good);
  EXPECT_EQ(good.json_invalid, 0u);
}

TEST(LlmUsageOpenAI, ResponsesStreamAndNonStream) {
  ExchangeSpec s;
  s.target = "/v1/responses";
  s.req_body = R"({"model":"o4-mini","input":"q","stream":true})";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("openai_responses_stream.sse");
  LlmCall c = run(s);
  EXPECT_EQ(c.api, "openai.responses");
  EXPECT_TRUE(c.stream);
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.response_model, "o4-mini-2025-04-16");
  EXPECT_EQ(c.response_id, "resp_67ccd2bed1ec8190b14f964abc054267");
  EXPECT_EQ(c.usage.input_tokens, 5000);
  EXPECT_EQ(c.usage.cache_read_input_tokens, 4096);
  EXPECT_EQ(c.usage.output_tokens, 900);
  EXPECT_EQ(c.usage.reasoning_tokens, 640);
  ASSERT_TRUE(c.cost_usd);
  EXPECT_NEAR(*c.cost_usd, ((5000 - 4096) * 1.10 + 4096 * 0.275 + 900 * 4.40) / 1e6, 1e-12);

  // Same stream without the terminal event: usage missing.
  std::string body = s.resp_body.substr(0, s.resp_body.find("event: response.completed"));
  s.resp_body = body;
  s.complete = false;
  LlmCall cut = run(s);
  EXPECT_TRUE(cut.usage_missing);
  EXPECT_EQ(cut.usage_note, "stream ended before response.completed");

  ExchangeSpec n;
  n.target = "/v1/responses";
  n.req_body = R"({"model":"gpt-4.1","input":"q"})";
  n.resp_headers = kJson;
  n.resp_body = read_fixture("openai_responses.json");
  LlmCall r = run(n);
  EXPECT_FALSE(r.usage_missing) << r.usage_note;
  EXPECT_EQ(r.usage.input_tokens, 328);
  EXPECT_EQ(r.usage.output_tokens, 52);
  EXPECT_NEAR(*r.cost_usd, (328 * 2.00 + 52 * 8.00) / 1e6, 1e-12);
}

TEST(LlmUsageOpenAI, Embeddings) {
  ExchangeSpec s;
  s.target = "/v1/embeddings";
  s.req_body = R"({"model":"text-embedding-3-small","input":"hello"})";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("openai_embeddings.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.operation, "embeddings");
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.usage.input_tokens, 8000);
  EXPECT_FALSE(c.usage.output_tokens);
  EXPECT_NEAR(*c.cost_usd, 8000 * 0.02 / 1e6, 1e-15);
}

TEST(LlmUsageOpenAI, Error429WithRetryAfter) {
  ExchangeSpec s;
  s.req_body = R"({"model":"gpt-4o","stream":true})";
  s.status = 429;
  s.resp_headers = {{"content-type", "application/json"}, {"retry-after", "2"},
                    {"x-ratelimit-remaining-tokens", "0"}};
  s.resp_body = read_fixture("openai_429.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.status, 429);
  EXPECT_EQ(c.error_type, "rate_limit_exceeded");
  ASSERT_TRUE(c.error_message);
  EXPECT_NE(c.error_message->find("Rate limit reached"), std::string::npos);
  EXPECT_LE(c.error_message->size(), 256u);
  EXPECT_DOUBLE_EQ(*c.retry_after_s, 2.0);
  EXPECT_TRUE(c.usage_missing);
  EXPECT_FALSE(c.usage.input_tokens);
  ASSERT_TRUE(c.cost_usd);
  EXPECT_EQ(*c.cost_usd, 0.0);
  // retry-after-ms is more precise and wins.
  s.resp_headers.push_back({"retry-after-ms", "1500"});
  EXPECT_DOUBLE_EQ(*run(s).retry_after_s, 1.5);
}

TEST(LlmUsageAzure, DeploymentPathModelAndResponseModelPricing) {
  ExchangeSpec s;
  s.host = "contoso.openai.azure.com";
  s.target = "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21&api-key=0123456789abcdef";
  s.req_headers = {{"api-key", "0123456789abcdef0123456789abcdef"}};
  s.req_body = R"({"messages":[{"role":"user","content":"x"}]})";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("azure_chat.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "azure.ai.openai");
  EXPECT_EQ(c.request_model, "prod-gpt4o");
  EXPECT_EQ(c.response_model, "gpt-4o-2024-11-20");
  EXPECT_EQ(c.path, "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21&api-key=REDACTED");
  EXPECT_EQ(c.api_key_class, "unknown");
  ASSERT_TRUE(c.cost_usd) << c.cost_note;
  EXPECT_NEAR(*c.cost_usd, ((3000 - 2048) * 2.50 + 2048 * 1.25 + 120 * 10.0) / 1e6, 1e-12);
}

TEST(LlmUsageDeepSeek, CacheHitTokens) {
  ExchangeSpec s;
  s.host = "api.deepseek.com";
  s.target = "/chat/completions";
  s.req_body = R"({"model":"deepseek-chat","messages":[]})";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("deepseek_chat.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "deepseek");
  EXPECT_EQ(c.usage.cache_read_input_tokens, 6400);
  EXPECT_NEAR(*c.cost_usd, (3600 * 0.28 + 6400 * 0.028 + 2000 * 0.42) / 1e6, 1e-12);
}

TEST(LlmUsageGroq, XGroqUsageInStream) {
  ExchangeSpec s;
  s.host = "api.groq.com";
  s.target = "/openai/v1/chat/completions";
  s.req_headers = {{"authorization", "Bearer gsk_abcdefghijklmnop"}};
  s.req_body = R"({"model":"llama-3.3-70b-versatile","stream":true})";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("groq_stream.sse");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "groq");
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.usage.input_tokens, 4000);
  EXPECT_EQ(c.usage.output_tokens, 1000);
  EXPECT_EQ(c.api_key_class, "gsk");
  EXPECT_NEAR(*c.cost_usd, (4000 * 0.59 + 1000 * 0.79) / 1e6, 1e-12);
}

TEST(LlmUsageMistral, FinalChunkUsageWithoutOptIn) {
  ExchangeSpec s;
  s.host = "api.mistral.ai";
  s.req_body = R"({"model":"mistral-small-latest","stream":true})";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("mistral_stream.sse");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "mistral_ai");
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_NEAR(*c.cost_usd, (700 * 0.06 + 60 * 0.18) / 1e6, 1e-12);
}

TEST(LlmUsageOpenRouter, ReportedCostIsAuthoritative) {
  ExchangeSpec s;
  s.host = "openrouter.ai";
  s.target = "/api/v1/chat/completions";
  s.req_headers = {{"authorization", "Bearer sk-or-v1-0123456789abcdef"}};
  s.req_body = R"({"model":"anthropic/claude-sonnet-4.5"})";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("openrouter_chat.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "openrouter");
  EXPECT_EQ(c.api_key_class, "sk-or-v1");
  EXPECT_DOUBLE_EQ(*c.reported_cost_usd, 0.0045);
  EXPECT_DOUBLE_EQ(*c.cost_usd, 0.0045);
}

TEST(LlmUsageLiteLLM, ResponseCostHeader) {
  ExchangeSpec s;
  s.host = "litellm.internal";
  s.req_body = R"({"model":"gpt-4o","messages":[]})";
  s.resp_headers = {{"content-type", "application/json"}, {"x-litellm-response-cost", "0.0123"}};
  s.resp_body = read_fixture("openai_chat_nonstream.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "openai_compatible");
  EXPECT_DOUBLE_EQ(*c.reported_cost_usd, 0.0123);
  EXPECT_DOUBLE_EQ(*c.cost_usd, 0.0123);
  s.resp_headers[1].value = "NaN";
  EXPECT_FALSE(run(s).reported_cost_usd);
}

TEST(LlmUsageAnthropic, NonStreamWithCacheTokens) {
  ExchangeSpec s;
  s.host = "api.anthropic.com";
  s.target = "/v1/messages";
  s.req_headers = {{"x-api-key", "sk-ant-api03-abcdefghijklmnop"}, {"anthropic-version", "2023-06-01"}};
  s.req_body = R"({"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[]})";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("anthropic_message.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "anthropic");
  EXPECT_EQ(c.api, "anthropic.messages");
  EXPECT_EQ(c.response_model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(c.response_id, "msg_01XFDUDYJgAACzvnptvVoYEL");
  EXPECT_EQ(c.usage.input_tokens, 2095);
  EXPECT_EQ(c.usage.cache_creation_input_tokens, 2051);
  EXPECT_EQ(c.usage.cache_creation_1h_input_tokens, 0);
  EXPECT_EQ(c.usage.cache_read_input_tokens, 10000);
  EXPECT_EQ(c.usage.output_tokens, 503);
  EXPECT_EQ(c.api_key_class, "sk-ant-api03");
  ASSERT_TRUE(c.cost_usd);
  EXPECT_NEAR(*c.cost_usd, (2095 * 3.0 + 2051 * 3.75 + 10000 * 0.30 + 503 * 15.0) / 1e6, 1e-12);
}

TEST(LlmUsageAnthropic, StreamMessageStartPlusLastDelta) {
  ExchangeSpec s;
  s.host = "api.anthropic.com";
  s.target = "/v1/messages";
  s.req_body = R"({"model":"claude-opus-4-1","stream":true})";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("anthropic_stream.sse");
  LlmCall c = run(s);
  EXPECT_TRUE(c.stream);
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.usage.input_tokens, 472);  // null in the last delta does not erase it
  EXPECT_EQ(c.usage.cache_creation_input_tokens, 1000);
  EXPECT_EQ(c.usage.cache_creation_1h_input_tokens, 400);
  EXPECT_EQ(c.usage.cache_read_input_tokens, 20000);
  EXPECT_EQ(c.usage.output_tokens, 1200);  // last cumulative message_delta
  ASSERT_TRUE(c.cost_usd);
  EXPECT_NEAR(*c.cost_usd, (472 * 15.0 + 600 * 18.75 + 400 * 30.0 + 20000 * 1.50 + 1200 * 75.0) / 1e6, 1e-12);
}

TEST(LlmUsageAnthropic, MidStreamErrorKeepsInputButNotOutput) {
  ExchangeSpec s;
  s.host = "api.anthropic.com";
  s.target = "/v1/messages";
  s.req_body = R"({"model":"claude-haiku-4-5","stream":true})";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("anthropic_stream_error.sse");
  LlmCall c = run(s);
  EXPECT_EQ(c.error_type, "overloaded_error");
  EXPECT_EQ(c.error_message, "Overloaded");
  EXPECT_TRUE(c.usage_missing);
  EXPECT_EQ(c.usage.input_tokens, 300);
  EXPECT_FALSE(c.usage.output_tokens);
  EXPECT_FALSE(c.cost_usd);
}

TEST(LlmUsageAnthropic, Error429) {
  ExchangeSpec s;
  s.host = "api.anthropic.com";
  s.target = "/v1/messages";
  s.req_body = R"({"model":"claude-sonnet-4-5"})";
  s.status = 429;
  s.resp_headers = {{"content-type", "application/json"}, {"retry-after", "30"}};
  s.resp_body = read_fixture("anthropic_429.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.error_type, "rate_limit_error");
  EXPECT_DOUBLE_EQ(*c.retry_after_s, 30.0);
  EXPECT_EQ(*c.cost_usd, 0.0);
  // 529 overloaded without a JSON body still records an error type.
  s.status = 529;
  s.resp_body = "<html>overloaded</html>";
  s.resp_headers = {};
  LlmCall o = run(s);
  EXPECT_EQ(o.error_type, "529");
}

TEST(LlmUsageGemini, NonStreamThoughtsAndCache) {
  ExchangeSpec s;
  s.host = "generativelanguage.googleapis.com";
  s.target = "/v1beta/models/gemini-2.5-pro:generateContent";
  s.req_headers = {{"x-goog-api-key", "AIzaSyA-0123456789abcdef"}};
  s.req_body = R"({"contents":[{"role":"user","parts":[{"text":"x"}]}]})";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("gemini_generate.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "gcp.gemini");
  EXPECT_EQ(c.operation, "generate_content");
  EXPECT_EQ(c.request_model, "gemini-2.5-pro");
  EXPECT_EQ(c.response_model, "gemini-2.5-pro");
  EXPECT_EQ(c.response_id, "mAitaLmkHPPlz7IPvtfUqQ4");
  EXPECT_EQ(c.usage.input_tokens, 12000);
  EXPECT_EQ(c.usage.cache_read_input_tokens, 8000);
  EXPECT_EQ(c.usage.output_tokens, 1600);  // candidates 400 + thoughts 1200
  EXPECT_EQ(c.usage.reasoning_tokens, 1200);
  EXPECT_EQ(c.api_key_class, "AIza");
  ASSERT_TRUE(c.cost_usd);
  EXPECT_NEAR(*c.cost_usd, ((12000 - 8000) * 1.25 + 8000 * 0.125 + (400 + 1200) * 10.0) / 1e6, 1e-12);
}

TEST(LlmUsageGemini, AltSseLastChunkWins) {
  ExchangeSpec s;
  s.host = "generativelanguage.googleapis.com";
  s.target = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=AIzaSyQUERYKEY123456";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("gemini_stream.sse");
  LlmCall c = run(s);
  EXPECT_TRUE(c.stream);
  EXPECT_EQ(c.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=REDACTED");
  EXPECT_EQ(c.api_key_class, "AIza");
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.usage.input_tokens, 900);
  EXPECT_EQ(c.usage.output_tokens, 345);
  EXPECT_EQ(c.usage.reasoning_tokens, 300);
  EXPECT_EQ(c.usage.cache_read_input_tokens, 512);
  EXPECT_NEAR(*c.cost_usd, ((900 - 512) * 0.30 + 512 * 0.03 + 345 * 2.50) / 1e6, 1e-12);
}

TEST(LlmUsageGemini, JsonArrayStream) {
  ExchangeSpec s;
  s.host = "generativelanguage.googleapis.com";
  s.target = "/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("gemini_stream_array.json");
  LlmCall c = run(s);
  EXPECT_TRUE(c.stream);
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.response_id, "arr-resp-1");
  EXPECT_EQ(c.usage.input_tokens, 150);
  EXPECT_EQ(c.usage.output_tokens, 30);
  EXPECT_FALSE(c.usage.reasoning_tokens);
  EXPECT_NEAR(*c.cost_usd, (150 * 0.10 + 30 * 0.40) / 1e6, 1e-12);

  // Cut after the first element: counts are partial and flagged.
  s.resp_body = s.resp_body.substr(0, s.resp_body.find(',', s.resp_body.find("modelVersion")) + 1);
  s.complete = false;
  LlmCall cut = run(s);
  EXPECT_TRUE(cut.usage_missing);
  EXPECT_EQ(cut.usage_note, "stream ended before finishReason; counts partial");
  EXPECT_FALSE(cut.cost_usd);
}

TEST(LlmUsageGemini, Error429RetryDelayFromBody) {
  ExchangeSpec s;
  s.host = "generativelanguage.googleapis.com";
  s.target = "/v1beta/models/gemini-2.5-pro:generateContent";
  s.status = 429;
  s.resp_headers = kJson;
  s.resp_body = read_fixture("gemini_429.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.error_type, "RESOURCE_EXHAUSTED");
  EXPECT_DOUBLE_EQ(*c.retry_after_s, 37.0);
  EXPECT_EQ(*c.cost_usd, 0.0);
  // Streamed as an array, the error object is the first element.
  s.target = "/v1beta/models/gemini-2.5-pro:streamGenerateContent";
  s.resp_body = "[" + s.resp_body + "]";
  EXPECT_EQ(run(s).error_type, "RESOURCE_EXHAUSTED");
}

TEST(LlmUsageVertex, AnthropicPublisherRawPredict) {
  ExchangeSpec s;
  s.host = "us-east5-aiplatform.googleapis.com";
  s.target = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict";
  s.req_headers = {{"authorization", "Bearer ya29.a0AfB_byC-abcdefghijklmnop"}};
  s.req_body = R"({"anthropic_version":"vertex-2023-10-16","max_tokens":10,"messages":[]})";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("anthropic_message.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "gcp.vertex_ai");
  EXPECT_EQ(c.api, "anthropic.messages");
  EXPECT_EQ(c.request_model, "claude-sonnet-4-5@20250929");
  EXPECT_EQ(c.api_key_class, "ya29");
  EXPECT_NEAR(*c.cost_usd, (2095 * 3.0 + 2051 * 3.75 + 10000 * 0.30 + 503 * 15.0) / 1e6, 1e-12);
}

TEST(LlmUsageOllama, NativeNdjsonStream) {
  ExchangeSpec s;
  s.host = "localhost";
  s.target = "/api/chat";
  s.req_body = R"({"model":"llama3.2","messages":[{"role":"user","content":"why is the sky blue?"}]})";
  s.resp_headers = {{"content-type", "application/x-ndjson"}};
  s.resp_body = read_fixture("ollama_chat.ndjson");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "ollama");
  EXPECT_TRUE(c.stream);  // Ollama streams by default
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.usage.input_tokens, 26);
  EXPECT_EQ(c.usage.output_tokens, 282);
  EXPECT_EQ(c.response_model, "llama3.2");
  EXPECT_EQ(c.api_key_fingerprint, "");
  ASSERT_TRUE(c.cost_usd) << c.cost_note;
  EXPECT_EQ(*c.cost_usd, 0.0);

  // Cut before the done object.
  s.resp_body = s.resp_body.substr(0, s.resp_body.find("\"done_reason\""));
  s.complete = false;
  LlmCall cut = run(s);
  EXPECT_TRUE(cut.usage_missing);
  EXPECT_EQ(cut.usage_note, "stream ended before done");

  // Error body.
  s.status = 404;
  s.resp_headers = kJson;
  s.resp_body = R"({"error":"model \"llama9\" not found, try pulling it first"})";
  LlmCall err = run(s);
  EXPECT_EQ(err.error_type, "error");
  EXPECT_NE(err.error_message->find("not found"), std::string::npos);
}

std::string b64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string chunk_event(const std::string& native_json) {
  return rein::test::encode_eventstream(
      {{":message-type", "event"}, {":event-type", "chunk"}, {":content-type", "application/json"}},
      "{\"bytes\":\"" + b64(native_json) + "\",\"p\":\"abcd\"}");
}

TEST(LlmUsageBedrock, ConverseJson) {
  ExchangeSpec s;
  s.host = "bedrock-runtime.us-east-1.amazonaws.com";
  s.target = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse";
  s.req_headers = {{"authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/bedrock/aws4_request, "
                    "SignedHeaders=host;x-amz-date, Signature=0123456789abcdef"}};
  s.req_body = R"({"messages":[{"role":"user","content":[{"text":"hi"}]}]})";
  s.resp_headers = kJson;
  s.resp_body = read_fixture("bedrock_converse.json");
  LlmCall c = run(s);
  EXPECT_EQ(c.provider, "aws.bedrock");
  EXPECT_EQ(c.api, "bedrock.converse");
  EXPECT_EQ(c.request_model, "anthropic.claude-3-5-haiku-20241022-v1:0");
  EXPECT_EQ(c.api_key_class, "AKIA");
  EXPECT_EQ(c.api_key_fingerprint.find("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(c.usage.input_tokens, 1500);
  EXPECT_EQ(c.usage.cache_read_input_tokens, 4000);
  EXPECT_EQ(c.usage.cache_creation_input_tokens, 1000);
  EXPECT_NEAR(*c.cost_usd, (1500 * 0.80 + 4000 * 0.08 + 1000 * 1.00 + 200 * 4.00) / 1e6, 1e-12);
}

TEST(LlmUsageBedrock, ConverseStreamMetadataEvent) {
  ExchangeSpec s;
  s.host = "bedrock-runtime.us-east-1.amazonaws.com";
  s.target = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream";
  s.resp_headers = {{"content-type", "application/vnd.amazon.eventstream"}};
  using rein::test::encode_eventstream;
  s.resp_body =
      encode_eventstream({{":message-type", "event"}, {":event-type", "messageStart"}}, R"({"role":"assistant"})") +
      encode_eventstream({{":message-type", "event"}, {":event-type", "contentBlockDelta"}},
                         R"({"contentBlockIndex":0,"delta":{"text":"Hi"}})") +
      encode_eventstream({{":message-type", "event"}, {":event-type", "messageStop"}}, R"({"stopReason":"end_turn"})") +
      encode_eventstream({{":message-type", "event"}, {":event-type", "metadata"}},
                         R"({"usage":{"inputTokens":800,"outputTokens":90,"totalTokens":890},"metrics":{"latencyMs":700}})");
  LlmCall c = run(s);
  EXPECT_TRUE(c.stream);
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.usage.input_tokens, 800);
  EXPECT_EQ(c.usage.output_tokens, 90);
  EXPECT_NEAR(*c.cost_usd, (800 * 3.0 + 90 * 15.0) / 1e6, 1e-12);

  // A throttling exception frame instead of the metadata.
  s.resp_body = encode_eventstream({{":message-type", "event"}, {":event-type", "messageStart"}}, "{}") +
                encode_eventstream({{":message-type", "exception"}, {":exception-type", "throttlingException"}},
                                   R"({"message":"Too many requests"})");
  LlmCall t = run(s);
  EXPECT_EQ(t.error_type, "throttlingException");
  EXPECT_EQ(t.error_message, "Too many requests");
  EXPECT_TRUE(t.usage_missing);
}

TEST(LlmUsageBedrock, InvokeWithResponseStreamAnthropic) {
  ExchangeSpec s;
  s.host = "bedrock-runtime.us-west-2.amazonaws.com";
  s.target = "/model/anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke-with-response-stream";
  s.req_headers = {{"authorization", "Bearer ABSKQmVkcm9ja0FQSUtleS1zZWNyZXQ="}};
  s.req_body = R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[]})";
  s.resp_headers = {{"content-type", "application/vnd.amazon.eventstream"}};
  s.resp_body =
      chunk_event(R"({"type":"message_start","message":{"id":"msg_bdrk_1","model":"claude-haiku-4-5-20251001","usage":{"input_tokens":120,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"output_tokens":1}}})") +
      chunk_event(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}})") +
      chunk_event(R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":40}})") +
      chunk_event(R"({"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":120,"outputTokenCount":40,"invocationLatency":900,"firstByteLatency":300}})");
  LlmCall c = run(s);
  EXPECT_EQ(c.api, "bedrock.invoke");
  EXPECT_EQ(c.api_key_class, "ABSK");
  EXPECT_EQ(c.response_id, "msg_bdrk_1");
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.usage.input_tokens, 120);
  EXPECT_EQ(c.usage.output_tokens, 40);
  EXPECT_NEAR(*c.cost_usd, (120 * 1.0 + 40 * 5.0) / 1e6, 1e-12);
}

TEST(LlmUsageBedrock, InvokeHeadersAndErrors) {
  ExchangeSpec s;
  s.host = "bedrock-runtime.us-east-1.amazonaws.com";
  s.target = "/model/amazon.nova-pro-v1%3A0/invoke";
  s.resp_headers = {{"content-type", "application/json"},
                    {"x-amzn-bedrock-input-token-count", "321"},
                    {"x-amzn-bedrock-output-token-count", "54"}};
  s.resp_body = R"({"output":{"message":{"content":[{"text":"hi"}]}}})";
  LlmCall c = run(s);
  EXPECT_FALSE(c.usage_missing) << c.usage_note;
  EXPECT_EQ(c.usage.input_tokens, 321);
  EXPECT_EQ(c.usage.output_tokens, 54);
  EXPECT_FALSE(c.cost_usd);  // nova is not in the table
  EXPECT_NE(c.cost_note.find("unknown model"), std::string::npos);

  s.status = 429;
  s.resp_headers = {{"content-type", "application/json"},
                    {"x-amzn-errortype", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}};
  s.resp_body = R"({"message":"Too many requests, please wait before trying again."})";
  LlmCall e = run(s);
  EXPECT_EQ(e.error_type, "ThrottlingException");
  EXPECT_EQ(e.error_message, "Too many requests, please wait before trying again.");
  EXPECT_EQ(*e.cost_usd, 0.0);
}

TEST(LlmUsageGeneral, NotAnLlmCallAndNoResponse) {
  ExchangeSpec s;
  s.host = "example.com";
  s.target = "/index.html";
  s.method = "GET";
  EXPECT_FALSE(analyze(make_exchange(s), prices(), fingerprinter()).has_value());

  ExchangeSpec n;
  n.req_body = R"({"model":"gpt-4o"})";
  n.no_response = true;
  LlmCall c = run(n);
  EXPECT_EQ(c.status, 0);
  EXPECT_TRUE(c.usage_missing);
  EXPECT_EQ(c.usage_note, "no response seen");
  EXPECT_FALSE(c.cost_usd);
  EXPECT_FALSE(c.latency_ms);
}

TEST(LlmUsageGeneral, TruncatedRequestBodyStillNamesModel) {
  ExchangeSpec s;
  s.req_body = R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"aaaa)";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("openai_chat_stream_usage.sse");
  LlmCall c = run(s);
  EXPECT_EQ(c.request_model, "gpt-4o");
  EXPECT_TRUE(c.stream);
  EXPECT_FALSE(c.usage_missing);
}

TEST(LlmUsageGeneral, HostileValuesAreNotCounts) {
  ExchangeSpec s;
  s.resp_headers = kJson;
  s.resp_body = R"({"model":"gpt-4o","usage":{"prompt_tokens":-5,"completion_tokens":1.5,"prompt_tokens_details":{"cached_tokens":"9"}}})";
  LlmCall c = run(s);
  EXPECT_FALSE(c.usage.input_tokens);
  EXPECT_FALSE(c.usage.output_tokens);
  EXPECT_FALSE(c.usage.cache_read_input_tokens);
  EXPECT_TRUE(c.usage_missing);
  EXPECT_FALSE(c.cost_usd);

  s.resp_body = R"({"model":"gpt-4o","usage":{"prompt_tokens":18446744073709551615,"completion_tokens":3.0}})";
  LlmCall big = run(s);
  EXPECT_FALSE(big.usage.input_tokens);
  EXPECT_EQ(big.usage.output_tokens, 3);
}

TEST(LlmUsageGeneral, OversizedJsonDocumentIsSkippedAndCounted) {
  ExchangeSpec s;
  s.resp_headers = kJson;
  s.resp_body = R"({"model":"gpt-4o","pad":")" + std::string((16u << 20) + 10, 'a') +
                R"(","usage":{"prompt_tokens":1,"completion_tokens":1}})";
  ExtractStats stats;
  LlmCall c = run(s, &stats);
  EXPECT_EQ(stats.json_oversized, 1u);
  EXPECT_TRUE(c.usage_missing);
  EXPECT_EQ(c.usage_note, "response JSON above the 16 MiB parse bound");
}

TEST(LlmUsageGeneral, ErrorMessagesAreBoundedAndRedacted) {
  ExchangeSpec s;
  s.status = 401;
  s.resp_headers = kJson;
  s.resp_body = R"({"error":{"message":"Incorrect API key provided: sk-proj-SECRETSECRETSECRET. )" +
                std::string(600, 'x') + R"(","type":"invalid_request_error","code":"invalid_api_key"}})";
  LlmCall c = run(s);
  EXPECT_EQ(c.error_type, "invalid_api_key");
  ASSERT_TRUE(c.error_message);
  EXPECT_LE(c.error_message->size(), 256u);
  EXPECT_EQ(c.error_message->find("SECRETSECRET"), std::string::npos);
}

}  // namespace

namespace {

TEST(LlmUsageGeneral, RetryAfterForms) {
  using rein::llm::retry_after_from_headers;
  EXPECT_DOUBLE_EQ(*retry_after_from_headers({{"retry-after", "12"}}), 12.0);
  EXPECT_DOUBLE_EQ(*retry_after_from_headers({{"retry-after", "0.5"}}), 0.5);
  EXPECT_DOUBLE_EQ(*retry_after_from_headers({{"retry-after", "Wed, 21 Oct 2015 07:28:30 GMT"},
                                              {"date", "Wed, 21 Oct 2015 07:28:00 GMT"}}),
                   30.0);
  EXPECT_FALSE(retry_after_from_headers({{"retry-after", "Wed, 21 Oct 2015 07:28:30 GMT"}}));  // no Date
  EXPECT_FALSE(retry_after_from_headers({{"retry-after", "soon"}}));
  EXPECT_FALSE(retry_after_from_headers({{"retry-after", "-3"}}));
  EXPECT_FALSE(retry_after_from_headers({{"retry-after", "inf"}}));
  EXPECT_FALSE(retry_after_from_headers({}));
}

TEST(LlmUsageGeneral, MissingTimestampsGiveNoLatency) {
  ExchangeSpec s;
  s.req_body = R"({"model":"gpt-4o","stream":true})";
  s.resp_headers = kSse;
  s.resp_body = read_fixture("openai_chat_stream_usage.sse");
  auto ex = make_exchange(s);
  ex.request.ts_start_ns = 0;
  ex.response->ts_first_body_ns = 0;
  auto c = analyze(ex, prices(), fingerprinter());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->latency_ms);
  EXPECT_FALSE(c->ttft_ms);
}

}  // namespace

// A response's own model name and id are the peer's bytes: a megabyte there is not kept,
// logged and written to the ledger whole (the usage still counts).
TEST(LlmUsageBounds, HugeModelAndIdAreCut) {
  const std::string huge(1 << 20, 'm');
  ExchangeSpec s;
  s.req_body = R"({"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o"})";
  s.resp_headers = kJson;
  s.resp_body = R"({"id":")" + huge + R"(","object":"chat.completion","model":")" + huge +
                R"(","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})";
  LlmCall c = run(s);
  EXPECT_EQ(c.response_model.size(), 256u);
  EXPECT_EQ(c.response_id.size(), 256u);
  EXPECT_EQ(c.request_model, "gpt-4o");
  EXPECT_EQ(c.usage.input_tokens, 3);
  EXPECT_EQ(c.usage.output_tokens, 4);
}
