// Internal to the usage extractor: one sink per wire shape consumes the response's JSON
// documents in order (one for a buffered body, one per stream event/line/element) and
// writes what it learns into the LlmCall.
#pragma once
#include <memory>
#include <string_view>

#include "llm/body_observer.h"
#include "llm/json_util.h"
#include "llm/llm_call.h"
#include "llm/provider_detect.h"
#include "llm/usage_extractor.h"

namespace rein::llm {

inline constexpr size_t kMaxErrorMessageBytes = 256;

struct StreamEnd {
  bool streamed = false;           // the body was a stream framing
  bool saw_done = false;           // SSE `data: [DONE]`
  bool body_complete = false;      // response ended cleanly and was not truncated
  bool include_usage_requested = false;
  int status = 0;
};

class UsageSink {
 public:
  virtual ~UsageSink() = default;
  // `event` is the SSE event name, or the eventstream :event-type; empty otherwise.
  virtual void on_doc(json::Element doc, std::string_view event) = 0;
  // A stream-level exception that is not JSON (AWS eventstream :exception-type frames).
  virtual void on_exception(std::string_view type, std::string_view message);
  virtual void finish(const StreamEnd& end) = 0;
  // What on_doc found that a body observer would look for again (DocHints).
  const DocHints& hints() const { return hints_; }

 protected:
  DocHints hints_;
};

std::unique_ptr<UsageSink> make_openai_chat_sink(LlmCall& call, Api api);
std::unique_ptr<UsageSink> make_openai_responses_sink(LlmCall& call);
std::unique_ptr<UsageSink> make_anthropic_sink(LlmCall& call);
std::unique_ptr<UsageSink> make_gemini_sink(LlmCall& call);
std::unique_ptr<UsageSink> make_ollama_sink(LlmCall& call);
std::unique_ptr<UsageSink> make_bedrock_converse_sink(LlmCall& call, const proto::HttpResponse& resp);
// Invoke bodies are model-native; Anthropic's shape is understood, other families rely on
// the X-Amzn-Bedrock-*-Token-Count headers or amazon-bedrock-invocationMetrics.
std::unique_ptr<UsageSink> make_bedrock_invoke_sink(LlmCall& call, const proto::HttpResponse& resp);

// --- shared helpers (usage_common.cpp) ---

// Records an error unless one is already recorded (the first error is the cause; later
// ones are usually consequences). The message is bounded and scrubbed of key-like tokens.
void note_error(LlmCall& call, std::string_view type, std::string_view message);

// Recognises the common error bodies: {"error": "..."}, {"error": {...}} (OpenAI, Azure,
// Gemini, OpenRouter), {"type":"error","error":{...}} (Anthropic), {"type":"error",
// "code","message"} (Responses), {"object":"error",...} (Mistral). True if it was one.
bool note_error_doc(json::Element doc, LlmCall& call);
// The same from the document's members `error`, `type` and `object` (first of each name),
// found by the caller's own pass over them.
bool note_error_members(json::Element doc, std::optional<json::Element> error,
                        std::optional<json::Element> type, std::optional<json::Element> object,
                        LlmCall& call);

// Gemini RetryInfo: error.details[].retryDelay ("30s", "1.5s").
std::optional<double> gemini_retry_delay(json::Element doc);

// Marks usage as missing with a note (keeps an earlier, more specific note).
// Bounds the strings a call takes from the peer's bytes (model names, response id, host,
// path): a document may hold megabytes there, and the call is kept, logged and written to the
// ledger. Called once the call is complete, before it is priced.
void bound_call_fields(LlmCall& call);
void mark_usage_missing(LlmCall& call, std::string_view note);

}  // namespace rein::llm
