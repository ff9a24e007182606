// The raw token counts of one call by `gen_ai_token_type` label, as rein_llm_tokens_total
// and rein_k8s_llm_tokens_total count them: kinds the provider did not report are skipped.
#pragma once
#include <cstdint>
#include <optional>
#include <utility>

#include "llm/llm_call.h"

namespace rein::metrics {

template <typename F>
void for_each_token_count(const llm::LlmUsage& u, F&& f) {
  const std::pair<const char*, const std::optional<int64_t>*> raw[] = {
      {"input", &u.input_tokens},
      {"output", &u.output_tokens},
      {"cache_read", &u.cache_read_input_tokens},
      {"cache_creation", &u.cache_creation_input_tokens},
      {"reasoning", &u.reasoning_tokens}};
  for (const auto& [kind, n] : raw)
    if (*n) f(kind, **n);
}

}  // namespace rein::metrics
