// Gemini API and Vertex AI generateContent / streamGenerateContent / embedContent.
// usageMetadata is proto3 JSON: a zero count is omitted, so inside a present usageMetadata
// an absent promptTokenCount / candidatesTokenCount / thoughtsTokenCount means 0.
#include "llm/usage_sink.h"

namespace rein::llm {

namespace {

class GeminiSink : public UsageSink {
 public:
  explicit GeminiSink(LlmCall& call) : call_(call) {}

  void on_doc(json::Element doc, std::string_view) override {
    if (!json::is_object(doc)) return;
    if (note_error_doc(doc, call_)) {
      if (!call_.retry_after_s) call_.retry_after_s = gemini_retry_delay(doc);
      return;
    }
    if (auto v = json::str(doc, "modelVersion"); v && !v->empty()) call_.response_model = std::string(*v);
    if (call_.response_id.empty()) {
      if (auto id = json::str(doc, "responseId"); id && !id->empty()) call_.response_id = std::string(*id);
    }
    if (auto cands = json::field(doc, "candidates"); cands && json::is_array(*cands)) {
      simdjson::dom::array arr;
      if (!cands->get_array().get(arr)) {
        for (json::Element c : arr) {
          if (json::str(c, "finishReason")) saw_finish_ = true;
        }
      }
    }
    // Every streamed chunk repeats usageMetadata; the last chunk's values are final.
    if (auto u = json::field(doc, "usageMetadata"); u && json::is_object(*u)) {
      LlmUsage out;
      int64_t prompt = json::count(*u, "promptTokenCount").value_or(0);
      int64_t tool = json::count(*u, "toolUsePromptTokenCount").value_or(0);
      int64_t cand = json::count(*u, "candidatesTokenCount").value_or(0);
      auto thoughts = json::count(*u, "thoughtsTokenCount");
      out.input_tokens = prompt + tool;
      // Thinking is billed at the output rate but reported beside the candidates.
      out.output_tokens = cand + thoughts.value_or(0);
      out.reasoning_tokens = thoughts;
      out.cache_read_input_tokens = json::count(*u, "cachedContentTokenCount");
      call_.usage = out;
      have_usage_ = true;
    }
  }

  void finish(const StreamEnd& end) override {
    if (!have_usage_) {
      if (end.status >= 400 || call_.error_type) {
        mark_usage_missing(call_, "error response carries no usage");
      } else if (end.streamed && !end.body_complete) {
        mark_usage_missing(call_, "stream ended before usageMetadata");
      } else {
        mark_usage_missing(call_, "no usageMetadata in response");
      }
      return;
    }
    if (end.streamed && !saw_finish_ && !end.body_complete) {
      // Counts from an intermediate chunk are partial.
      mark_usage_missing(call_, "stream ended before finishReason; counts partial");
    }
  }

 private:
  LlmCall& call_;
  bool have_usage_ = false;
  bool saw_finish_ = false;
};

}  // namespace

std::unique_ptr<UsageSink> make_gemini_sink(LlmCall& call) { return std::make_unique<GeminiSink>(call); }

}  // namespace rein::llm
