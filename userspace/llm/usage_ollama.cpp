// Ollama native API (/api/chat, /api/generate, /api/embed). Counts arrive on the final
// `"done": true` object. Ollama omits zero-valued counts (Go omitempty), so a done object
// with metrics but no prompt_eval_count evaluated 0 prompt tokens (KV-cache reuse).
#include "llm/usage_sink.h"

namespace rein::llm {

namespace {

class OllamaSink : public UsageSink {
 public:
  explicit OllamaSink(LlmCall& call) : call_(call) {}

  void on_doc(json::Element doc, std::string_view) override {
    if (!json::is_object(doc)) return;
    if (note_error_doc(doc, call_)) return;
    if (auto m = json::str(doc, "model"); m && !m->empty()) call_.response_model = std::string(*m);
    auto done = json::boolean(doc, "done");
    if (call_.operation == "embeddings" && !done) {
      if (auto p = json::count(doc, "prompt_eval_count")) {
        call_.usage.input_tokens = p;
        have_usage_ = true;
      }
      return;
    }
    if (!done.value_or(false)) return;
    saw_done_ = true;
    auto prompt = json::count(doc, "prompt_eval_count");
    auto eval = json::count(doc, "eval_count");
    const bool has_metrics = eval || json::field(doc, "total_duration").has_value();
    if (!has_metrics) return;
    LlmUsage out;
    out.input_tokens = prompt ? prompt : std::optional<int64_t>(0);
    out.output_tokens = eval ? eval : std::optional<int64_t>(0);
    call_.usage = out;
    have_usage_ = true;
  }

  void finish(const StreamEnd& end) override {
    if (have_usage_) return;
    if (end.status >= 400 || call_.error_type) {
      mark_usage_missing(call_, "error response carries no usage");
    } else if (end.streamed && !saw_done_) {
      mark_usage_missing(call_, "stream ended before done");
    } else {
      mark_usage_missing(call_, "no eval counts in response");
    }
  }

 private:
  LlmCall& call_;
  bool have_usage_ = false;
  bool saw_done_ = false;
};

}  // namespace

std::unique_ptr<UsageSink> make_ollama_sink(LlmCall& call) { return std::make_unique<OllamaSink>(call); }

}  // namespace rein::llm
