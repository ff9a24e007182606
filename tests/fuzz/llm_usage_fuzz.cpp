// Arbitrary response bodies (and request bodies, and a few header values) fed through
// llm::analyze() as each provider's reply: must never crash, never report a negative
// count, and keep error messages within their bound. The detections' content extractor
// rides on the same parse (llm/body_observer.h) and stays within its bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "detect/llm_content.h"
#include "llm/llm_analyzer.h"

namespace {

struct Scenario {
  const char* host;
  const char* target;
  const char* content_type;
};

constexpr Scenario kScenarios[] = {
    {"api.openai.com", "/v1/chat/completions", "application/json"},
    {"api.openai.com", "/v1/chat/completions", "text/event-stream"},
    {"api.openai.com", "/v1/responses", "text/event-stream"},
    {"api.openai.com", "/v1/embeddings", "application/json"},
    {"api.anthropic.com", "/v1/messages", "text/event-stream"},
    {"api.anthropic.com", "/v1/messages", "application/json"},
    {"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=AIzaX",
     "text/event-stream"},
    {"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:streamGenerateContent", "application/json"},
    {"bedrock-runtime.us-east-1.amazonaws.com", "/model/anthropic.claude-haiku-4-5-20251001-v1%3A0/converse-stream",
     "application/vnd.amazon.eventstream"},
    {"bedrock-runtime.us-east-1.amazonaws.com", "/model/x/invoke-with-response-stream",
     "application/vnd.amazon.eventstream"},
    {"bedrock-runtime.us-east-1.amazonaws.com", "/model/x/invoke", "application/json"},
    {"localhost", "/api/chat", "application/x-ndjson"},
    {"myres.openai.azure.com", "/openai/deployments/d/chat/completions?api-key=k", ""},
    {"api.groq.com", "/openai/v1/chat/completions", "text/event-stream"},
};

const rein::llm::PriceTable& prices() {
  static const rein::llm::PriceTable t = [] {
    auto r = rein::llm::PriceTable::parse(
        R"({"models":[{"model":"gpt-4o","input":2.5,"output":10,"cache_read":1.25},
                      {"model":"claude-haiku-4-5","input":1,"output":5,"cache_read":0.1,"cache_write_5m":1.25,"cache_write_1h":2},
                      {"model":"gemini-2.5-pro","input":1.25,"output":10,"long_context":{"above_input_tokens":200000,"input":2.5}}],
            "provider_defaults":[{"provider":"ollama","input":0,"output":0}]})",
        "fuzz");
    if (!r.ok()) std::abort();
    return std::move(r).value();
  }();
  return t;
}

void check_count(const std::optional<int64_t>& v) {
  if (v && *v < 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Scenario& sc = kScenarios[data[0] % (sizeof(kScenarios) / sizeof(kScenarios[0]))];
  const uint8_t flags = data[1];
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);

  rein::proto::HttpExchange ex;
  ex.request.method = "POST";
  ex.request.host = sc.host;
  ex.request.target = sc.target;
  ex.request.headers = {{"authorization", "Bearer sk-proj-fuzzfuzzfuzz"}};
  ex.request.ts_start_ns = 10;
  ex.request.ts_end_ns = flags & 0x10 ? 5 : 20;  // sometimes out of order
  std::string_view resp_body = rest;
  if (flags & 0x80) {  // split: request body | response body
    size_t half = rest.size() / 2;
    ex.request.body = std::string(rest.substr(0, half));
    resp_body = rest.substr(half);
  } else {
    ex.request.body = flags & 1 ? R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}})"
                                : R"({"model":"claude-haiku-4-5"})";
  }
  if (!(flags & 0x40)) {
    rein::proto::HttpResponse r;
    r.status = flags & 0x20 ? 429 : 200;
    if (sc.content_type[0] != '\0') r.headers.push_back({"content-type", sc.content_type});
    // One header with fuzzed value: exercises retry-after / cost / Bedrock count parsing.
    static constexpr const char* kHeaders[] = {"retry-after", "retry-after-ms", "x-litellm-response-cost",
                                               "x-amzn-bedrock-input-token-count", "x-amzn-errortype", "date"};
    std::string hv(resp_body.substr(0, std::min<size_t>(resp_body.size(), (flags >> 1) & 7)));
    r.headers.push_back({kHeaders[(flags >> 1) % 6], hv});
    r.body = std::string(resp_body);
    r.complete = flags & 2;
    r.ts_first_body_ns = 30;
    r.ts_end_ns = flags & 4 ? 1 : 40;
    ex.response = std::move(r);
  }
  static const rein::llm::Fingerprinter fp(std::array<uint8_t, 32>{1});
  rein::llm::ExtractStats stats;
  static rein::detect::LlmContentExtractor content;
  auto call = rein::llm::analyze(ex, prices(), fp, &stats, content.observer());
  const rein::detect::LlmContent c = content.extract(ex);
  if (c.response_text.size() > rein::detect::kMaxResponseText) std::abort();
  if (!call) {
    // Only the generic-host Ollama path may be rejected (it needs an inference-shaped body).
    if (std::string_view(sc.host) != "localhost") std::abort();
    return 0;
  }
  check_count(call->usage.input_tokens);
  check_count(call->usage.output_tokens);
  check_count(call->usage.cache_read_input_tokens);
  check_count(call->usage.cache_creation_input_tokens);
  check_count(call->usage.reasoning_tokens);
  if (call->error_message && call->error_message->size() > 256) std::abort();
  if (call->cost_usd && !(*call->cost_usd >= 0)) std::abort();
  if (call->latency_ms && *call->latency_ms < 0) std::abort();
  if (call->path.find("key=k") != std::string::npos || call->path.find("AIzaX") != std::string::npos) std::abort();
  if (call->api_key_fingerprint.find("fuzzfuzz") != std::string::npos) std::abort();
  return 0;
}
