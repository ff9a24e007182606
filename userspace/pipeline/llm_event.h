// The fields of an `llm.call` event (design.md contract) and the per-agent totals.
#pragma once
#include <cstdint>

#include "llm/llm_call.h"
#include "sinks/json_writer.h"

namespace rein::pipeline {

void write_llm_call(sinks::JsonWriter& w, const llm::LlmCall& call);

// Running totals per agent: calls, raw token counts by kind, dollars.
struct AgentTotals {
  uint64_t calls = 0, errors = 0, usage_missing = 0, unpriced = 0;
  uint64_t input_tokens = 0, output_tokens = 0, cache_read_input_tokens = 0,
           cache_creation_input_tokens = 0, reasoning_tokens = 0;
  double cost_usd = 0;
  void add(const llm::LlmCall& call);
  void write(sinks::JsonWriter& w) const;
};

}  // namespace rein::pipeline
