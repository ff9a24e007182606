// Fills the model, stream flag, usage counts, response id and errors of an LlmCall from a
// decoded HTTP exchange whose API was already detected. Handles buffered JSON and every
// stream framing the APIs use (SSE, NDJSON, streamed JSON array, AWS eventstream). A count
// that was not reported stays nullopt and usage_missing explains why; nothing is guessed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "llm/body_observer.h"
#include "llm/llm_call.h"
#include "llm/provider_detect.h"
#include "proto/http_message.h"

namespace rein::llm {

struct ExtractStats {
  uint64_t json_docs = 0;          // JSON documents parsed
  uint64_t json_invalid = 0;       // documents that failed to parse
  uint64_t json_oversized = 0;     // documents skipped for exceeding json::kMaxDocBytes
  uint64_t stream_dropped = 0;     // SSE events / NDJSON lines / array elements / frames
                                   // dropped by a framing bound or a bad checksum
};

// What the request body says about the call.
struct RequestInfo {
  std::string model;
  std::optional<bool> stream;
  bool include_usage = false;      // stream_options.include_usage
  bool parsed = false;             // false: body not JSON (or truncated); fields scanned
};

// `observer` (optional) also gets the parsed document.
RequestInfo parse_request(const proto::HttpRequest& req, ExtractStats* stats = nullptr,
                          BodyObserver* observer = nullptr);

// Fills request_model, response_model, stream, usage, usage_missing/usage_note,
// response_id, error_type/error_message, retry_after_s and reported_cost_usd. `observer`
// (optional) rides on the same parse (llm/body_observer.h).
void extract_usage(const proto::HttpExchange& ex, const Detection& det, LlmCall& call,
                   ExtractStats* stats = nullptr, BodyObserver* observer = nullptr);

// Retry hint in seconds from retry-after-ms / retry-after (delta seconds or an HTTP date
// relative to the Date header). nullopt when absent or unparseable.
std::optional<double> retry_after_from_headers(const std::vector<proto::HttpHeader>& headers);

}  // namespace rein::llm
