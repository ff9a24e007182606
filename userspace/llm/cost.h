// Dollar cost of one call from its raw usage counts and the price table, following each
// API's cache arithmetic (docs/llm-accounting.md):
//   cache inside input (OpenAI shapes, Gemini, DeepSeek, Ollama):
//     (input - cache_read - cache_write)*in + cache_read*cr + cache_write*cw + output*out
//   cache outside input (Anthropic, Bedrock):
//     input*in + cache_read*cr + cache_write*cw + output*out
// Output already includes reasoning/thinking tokens for every API (see LlmUsage).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "llm/llm_call.h"
#include "llm/price_table.h"

namespace rein::llm {

struct CostResult {
  std::optional<double> usd;
  std::string note;  // how it was priced, or why it could not be
};

// True unless `api` (LlmCall::api) is Anthropic- or Bedrock-shaped.
bool api_counts_cache_in_input(std::string_view api);

// OTel-style total input (cached tokens included), whatever the API's convention.
std::optional<int64_t> total_input_tokens(const LlmCall& call);

CostResult compute_cost(const LlmUsage& usage, bool cache_inside, bool needs_output,
                        const ModelPrice& price);

// Sets call.cost_usd and call.cost_note. Prices the response model first, then the request
// model, then the provider default. A provider-reported cost (LiteLLM header, OpenRouter
// usage.cost) is authoritative when present.
void price_call(LlmCall& call, const PriceTable& prices);

}  // namespace rein::llm
