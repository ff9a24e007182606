// A second reader of an LLM exchange's bodies that rides on the usage extractor's parse
// (the detections' content extractor, detect/llm_content.h): it is handed the request's JSON
// document and every response document the extractor parses, so each body is parsed once
// for all its readers. Elements are valid only during the call that passes them.
#pragma once
#include <optional>

#include "llm/json_util.h"
#include "llm/provider_detect.h"
#include "proto/http_message.h"

namespace rein::llm {

// What the usage extractor's own reading of a response document found, so an observer
// need not look for it again.
struct DocHints {
  // The document's top-level members were all read: `choices` is its first member of that
  // name (OpenAI chat and completions), nullopt when it has none.
  bool top_read = false;
  std::optional<json::Element> choices;
};

class BodyObserver {
 public:
  virtual ~BodyObserver() = default;
  // Before anything else of `ex` (only for exchanges that are LLM API calls), with the API
  // the analyzer took it for (where a reader finds the answer's text depends on it).
  virtual void begin(const proto::HttpExchange& ex, Api api) = 0;
  // The request body, when it parsed as a JSON document.
  virtual void on_request_doc(json::Element root) = 0;
  // Each JSON document of the response in order: the body, or one per SSE event, NDJSON
  // line or streamed array element (not AWS eventstream payloads), with the JSON text it was
  // parsed from (for byte-level prefilters: a key absent from the text, and no `\u` escape
  // in it, is absent from the document).
  virtual void on_response_doc(json::Element doc, std::string_view text, const DocHints& hints) = 0;
};

}  // namespace rein::llm
