#include "metrics/metrics_feed.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "pipeline/event_observer.h"

namespace {

using namespace rein;
using metrics::FeedOptions;
using metrics::MetricsFeed;

std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

double sum_of(const std::map<std::string, double>& s, std::string_view prefix,
              std::string_view must_contain = "") {
  double total = 0;
  for (const auto& [k, v] : s)
    if (k.rfind(prefix, 0) == 0 && k.find(must_contain) != std::string::npos) total += v;
  return total;
}

llm::LlmCall call(std::string provider, std::string api, std::string model, int64_t in, int64_t out,
                  std::optional<int64_t> cache_read = {}, std::optional<int64_t> cache_write = {},
                  std::optional<double> cost = {}, double latency_ms = 250) {
  llm::LlmCall c;
  c.provider = std::move(provider);
  c.api = std::move(api);
  c.operation = "chat";
  c.request_model = std::move(model);
  c.status = 200;
  c.usage.input_tokens = in;
  c.usage.output_tokens = out;
  c.usage.cache_read_input_tokens = cache_read;
  c.usage.cache_creation_input_tokens = cache_write;
  c.cost_usd = cost;
  c.latency_ms = latency_ms;
  return c;
}

process::Agent agent(std::string name, std::string id) {
  return process::Agent{std::move(id), std::move(name), 100, 1};
}

TEST(MetricsFeed, LlmCallsFillOtelHistogramsAndRawCounters) {
  MetricsFeed f(FeedOptions{"1.2.3"});
  auto a = agent("claude", "claude-100-abc");
  // OpenAI: cache inside input; Anthropic: outside, so OTel input adds it back
  f.on_llm_call(&a, call("openai", "openai.chat", "gpt-4o", 1200, 300, 1024, {}, 0.00345, 120));
  f.on_llm_call(&a, call("anthropic", "anthropic.messages", "claude-haiku-4-5", 10, 50, 2000, 300,
                         0.0011, 3000));
  auto s = samples(f.registry().render());
  const std::string otel_openai =
      "{gen_ai_token_type=\"input\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-"
      "4o\","
      "gen_ai_operation_name=\"chat\"}";
  EXPECT_EQ(s.at("gen_ai_client_token_usage_sum" + otel_openai), 1200);
  EXPECT_EQ(s.at("gen_ai_client_token_usage_count" + otel_openai), 1);
  EXPECT_EQ(sum_of(s, "gen_ai_client_token_usage_sum", "anthropic\""), 2310 + 50);
  EXPECT_EQ(sum_of(s, "gen_ai_client_token_usage_sum",
                   "token_type=\"input\",gen_ai_provider_name=\"anthropic"),
            2310);
  // 1200 falls in the 1024 < x <= 4096 bucket
  EXPECT_EQ(
      s.at(
          "gen_ai_client_token_usage_bucket{gen_ai_token_type=\"input\",gen_ai_provider_name="
          "\"openai\",gen_ai_request_model=\"gpt-4o\",gen_ai_operation_name=\"chat\",le=\"1024\"}"),
      0);
  EXPECT_EQ(
      s.at(
          "gen_ai_client_token_usage_bucket{gen_ai_token_type=\"input\",gen_ai_provider_name="
          "\"openai\",gen_ai_request_model=\"gpt-4o\",gen_ai_operation_name=\"chat\",le=\"4096\"}"),
      1);
  // raw counts, as llm.call reports them
  EXPECT_EQ(sum_of(s, "rein_llm_tokens_total{gen_ai_token_type=\"input\""), 1210);
  EXPECT_EQ(sum_of(s, "rein_llm_tokens_total{gen_ai_token_type=\"cache_read\""), 3024);
  EXPECT_EQ(sum_of(s, "rein_llm_tokens_total{gen_ai_token_type=\"cache_creation\""), 300);
  EXPECT_EQ(sum_of(s, "rein_llm_tokens_total{gen_ai_token_type=\"output\""), 350);
  EXPECT_EQ(sum_of(s, "rein_llm_tokens_total{gen_ai_token_type=\"reasoning\""), 0);
  EXPECT_DOUBLE_EQ(sum_of(s, "rein_llm_cost_usd_total"), 0.00345 + 0.0011);
  EXPECT_EQ(s.at("rein_llm_cost_usd_total{agent=\"claude\",gen_ai_provider_name=\"openai\","
                 "gen_ai_request_model=\"gpt-4o\"}"),
            0.00345);
  EXPECT_EQ(sum_of(s, "rein_llm_calls_total{status=\"200\""), 2);
  EXPECT_EQ(sum_of(s, "gen_ai_client_operation_duration_seconds_count"), 2);
  EXPECT_DOUBLE_EQ(sum_of(s, "gen_ai_client_operation_duration_seconds_sum"), 3.12);
  EXPECT_EQ(
      s.at("gen_ai_client_operation_duration_seconds_bucket{gen_ai_provider_name=\"anthropic\","
           "gen_ai_request_model=\"claude-haiku-4-5\",gen_ai_operation_name=\"chat\",le=\"2.56\"}"),
      0);
  EXPECT_EQ(
      s.at("gen_ai_client_operation_duration_seconds_bucket{gen_ai_provider_name=\"anthropic\","
           "gen_ai_request_model=\"claude-haiku-4-5\",gen_ai_operation_name=\"chat\",le=\"5.12\"}"),
      1);
  EXPECT_EQ(s.at("rein_build_info{version=\"1.2.3\"}"), 1);
  EXPECT_EQ(s.at("rein_sensor_up"), 1);
}

TEST(MetricsFeed, MissingUsageAndErrorsCountCallsOnly) {
  MetricsFeed f(FeedOptions{"v"});
  llm::LlmCall cut = call("openai", "openai.chat", "gpt-4o", 0, 0);
  cut.usage = {};
  cut.usage_missing = true;
  cut.latency_ms.reset();
  f.on_llm_call(nullptr, cut);
  llm::LlmCall rejected = call("openai", "openai.chat", "gpt-4o", 0, 0, {}, {}, 0.0);
  rejected.status = 429;
  rejected.usage = {};
  f.on_llm_call(nullptr, rejected);
  llm::LlmCall none = call("openai", "openai.chat", "", 0, 0);
  none.status = 0;
  none.usage = {};
  f.on_llm_call(nullptr, none);
  auto s = samples(f.registry().render());
  EXPECT_EQ(s.at("rein_llm_calls_total{status=\"200\",gen_ai_provider_name=\"openai\","
                 "gen_ai_request_model=\"gpt-4o\"}"),
            1);
  EXPECT_EQ(s.at("rein_llm_calls_total{status=\"429\",gen_ai_provider_name=\"openai\","
                 "gen_ai_request_model=\"gpt-4o\"}"),
            1);
  EXPECT_EQ(s.at("rein_llm_calls_total{status=\"none\",gen_ai_provider_name=\"openai\","
                 "gen_ai_request_model=\"unknown\"}"),
            1);
  EXPECT_EQ(sum_of(s, "gen_ai_client_token_usage_count"), 0);
  EXPECT_EQ(sum_of(s, "rein_llm_tokens_total"), 0);
  EXPECT_EQ(s.at("rein_llm_cost_usd_total{agent=\"none\",gen_ai_provider_name=\"openai\","
                 "gen_ai_request_model=\"gpt-4o\"}"),
            0);  // rejected: priced at 0, so present
}

TEST(MetricsFeed, AgentsAndModelsFoldPastTheLimit) {
  MetricsFeed f(FeedOptions{"v", 2, 3});
  for (int i = 0; i < 10; i++) {
    auto a = agent("agent" + std::to_string(i), "id" + std::to_string(i));
    f.on_llm_call(&a,
                  call("openai", "openai.chat", "model" + std::to_string(i), 1, 1, {}, {}, 1.0));
  }
  auto s = samples(f.registry().render());
  EXPECT_EQ(sum_of(s, "rein_llm_cost_usd_total"), 10);
  EXPECT_EQ(sum_of(s, "rein_llm_cost_usd_total{agent=\"other\""), 8);
  EXPECT_EQ(sum_of(s, "rein_llm_calls_total", "gen_ai_request_model=\"other\""), 7);
  size_t cost_series = 0;
  for (const auto& [k, v] : s) cost_series += k.rfind("rein_llm_cost_usd_total", 0) == 0;
  EXPECT_LE(cost_series, 2u * 3u + 3u);
}

TEST(MetricsFeed, SecretsNeverBecomeLabels) {
  MetricsFeed f(FeedOptions{"v"});
  const std::string key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
  auto a = agent(key, "id");
  f.on_llm_call(&a, call("openai", "openai.chat", key, 1, 1, {}, {}, 1.0));
  enforce::Decision d;
  d.rule = "rule " + key;
  d.outcome = "prevented";
  f.on_policy_action(d);
  auto text = f.registry().render();
  EXPECT_EQ(text.find("abcdefghijklmnop"), std::string::npos) << text;
  EXPECT_NE(text.find("[redacted]"), std::string::npos);
}

TEST(MetricsFeed, EventsPolicyAgentsAndDrops) {
  MetricsFeed f(FeedOptions{"v"});
  for (auto t : {"process.exec", "process.exec", "llm.unobserved", ""}) f.on_event(t);
  enforce::Decision d;
  d.rule = "no-secrets";
  d.outcome = "prevented";
  f.on_policy_action(d);
  f.on_policy_action(d);
  auto a1 = agent("claude", "claude-1");
  auto a2 = agent("codex", "codex-2");
  f.on_agent_started(a1);
  f.on_agent_started(a1);  // the same session seen again
  f.on_agent_started(a2);
  f.on_agent_ended(a1);
  f.set_loss_counters({{"drop_ringbuf_full", 7}, {"records", 1000}, {"decode_errors", 2}});
  auto s = samples(f.registry().render());
  EXPECT_EQ(s.at("rein_events_total{type=\"process.exec\"}"), 2);
  EXPECT_EQ(s.at("rein_events_total{type=\"llm.unobserved\"}"), 1);
  EXPECT_EQ(s.at("rein_tls_unobserved_total"), 1);
  EXPECT_EQ(s.at("rein_policy_actions_total{rule=\"no-secrets\",outcome=\"prevented\"}"), 2);
  EXPECT_EQ(s.at("rein_agents_active"), 1);
  EXPECT_EQ(s.at("rein_drops_total{reason=\"drop_ringbuf_full\"}"), 7);
  EXPECT_EQ(s.at("rein_drops_total{reason=\"decode_errors\"}"), 2);
  EXPECT_EQ(s.at("rein_drops_total{reason=\"drop_pending_full\"}"), 0);  // present from the start
  EXPECT_FALSE(s.count("rein_drops_total{reason=\"records\"}"));         // not a loss
  f.set_loss_counters({{"drop_ringbuf_full", 9}});
  EXPECT_EQ(samples(f.registry().render()).at("rein_drops_total{reason=\"drop_ringbuf_full\"}"), 9);
}

TEST(MetricsFeed, EventTypeComesFromTheLinePrefix) {
  EXPECT_EQ(pipeline::event_type_of(R"({"type":"llm.call","time":"x"})"), "llm.call");
  EXPECT_EQ(pipeline::event_type_of(R"({"time":"x","type":"llm.call"})"), "");
  EXPECT_EQ(pipeline::event_type_of(R"({"type":"unterminated)"), "");
  EXPECT_EQ(pipeline::event_type_of(""), "");
}

}  // namespace
