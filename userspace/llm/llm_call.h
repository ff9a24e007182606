// One attributed LLM API call: what the `llm.call` event carries. Token counts are the
// provider's raw numbers (see docs/llm-accounting.md for what each means per API); a count
// the provider did not report is nullopt, never a guessed zero.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llm/tool_calls.h"

namespace rein::llm {

struct LlmUsage {
  // Raw input count as the API reports it. Cache-inside-input APIs (OpenAI shapes, Gemini,
  // DeepSeek, Ollama): includes cache reads. Anthropic-shaped APIs and Bedrock: excludes
  // cache reads and writes. `LlmCall::api` says which; total_input_tokens() normalises.
  std::optional<int64_t> input_tokens;
  // Billable output, including reasoning/thinking tokens for every API (for Gemini this is
  // candidatesTokenCount + thoughtsTokenCount).
  std::optional<int64_t> output_tokens;
  std::optional<int64_t> cache_read_input_tokens;
  std::optional<int64_t> cache_creation_input_tokens;
  // Subset of cache_creation_input_tokens written with the 1-hour TTL (Anthropic), priced
  // at the cache_write_1h rate; the remainder is priced at the 5-minute rate.
  std::optional<int64_t> cache_creation_1h_input_tokens;
  std::optional<int64_t> reasoning_tokens;  // subset of output_tokens
};

struct LlmCall {
  // OTel gen_ai.provider.name values where one exists: openai, anthropic, gcp.gemini,
  // gcp.vertex_ai, aws.bedrock, azure.ai.openai, deepseek, groq, mistral_ai, x_ai, plus
  // openrouter, together, ollama, openai_compatible, anthropic_compatible.
  std::string provider;
  std::string operation;  // chat, text_completion, embeddings, generate_content
  // Wire shape of the exchange, which fixes the usage semantics: openai.chat,
  // openai.completions, openai.embeddings, openai.responses, anthropic.messages, gemini,
  // bedrock.converse, bedrock.invoke, ollama.
  std::string api;
  std::string host, method, path;  // path: query scrubbed of key=, api-key=, ...
  int status = 0;                  // 0: no response seen
  std::string request_model, response_model;
  bool stream = false;
  LlmUsage usage;
  bool usage_missing = false;
  std::string usage_note;  // why usage is missing or partial
  std::optional<double> cost_usd;
  std::string cost_note;
  std::optional<double> latency_ms, ttft_ms;
  std::optional<std::string> error_type, error_message;  // message bounded to 256 bytes
  std::optional<double> retry_after_s;
  std::string api_key_fingerprint;  // "" if no credential was sent
  std::string api_key_class;
  std::string response_id;
  std::optional<double> reported_cost_usd;  // x-litellm-response-cost, OpenRouter usage.cost
  // Tool calls in the response (bounded; config.mutation links file changes to them).
  std::vector<ToolCall> tool_calls;
};

}  // namespace rein::llm
