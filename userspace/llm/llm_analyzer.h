// Turns one decoded HTTP exchange into an attributed LLM call (tokens, dollars, latency,
// errors, key fingerprint), or nothing when the exchange is not an LLM API call.
#pragma once
#include <optional>

#include "llm/key_fingerprint.h"
#include "llm/llm_call.h"
#include "llm/price_table.h"
#include "llm/usage_extractor.h"
#include "proto/http_message.h"

namespace rein::llm {

// `observer` (optional) sees the bodies' JSON documents as they are parsed, only for an
// exchange that is an LLM call (llm/body_observer.h).
std::optional<LlmCall> analyze(const proto::HttpExchange& ex, const PriceTable& prices,
                               const Fingerprinter& fingerprinter, ExtractStats* stats = nullptr,
                               BodyObserver* observer = nullptr);

}  // namespace rein::llm
