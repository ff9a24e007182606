// Anthropic Messages (direct, Vertex :rawPredict, Bedrock invoke bodies, DeepSeek's
// Anthropic surface). Input and cache counts are separate numbers here: input_tokens
// excludes cache reads and writes.
#include "llm/usage_sink.h"

namespace rein::llm {

namespace {

// Overwrites only the fields the usage object reports with a non-null value (the
// message_delta rule; also right for a whole `message`).
void merge_usage(json::Element u, LlmUsage& out, bool take_output) {
  if (auto v = json::count(u, "input_tokens")) out.input_tokens = v;
  if (take_output) {
    if (auto v = json::count(u, "output_tokens")) out.output_tokens = v;
  }
  if (auto v = json::count(u, "cache_creation_input_tokens")) out.cache_creation_input_tokens = v;
  if (auto v = json::count(u, "cache_read_input_tokens")) out.cache_read_input_tokens = v;
  if (auto v = json::count_at(u, {"cache_creation", "ephemeral_1h_input_tokens"})) {
    out.cache_creation_1h_input_tokens = v;
  }
}

class AnthropicSink : public UsageSink {
 public:
  explicit AnthropicSink(LlmCall& call) : call_(call) {}

  void on_doc(json::Element doc, std::string_view) override {
    if (!json::is_object(doc)) return;
    auto type = json::str(doc, "type").value_or("");
    if (type == "message") {  // buffered reply
      take_message(doc);
      if (auto u = json::field(doc, "usage"); u && json::is_object(*u)) {
        merge_usage(*u, usage_, /*take_output=*/true);
        saw_message_ = true;
      }
    } else if (type == "message_start") {
      if (auto m = json::field(doc, "message"); m && json::is_object(*m)) {
        take_message(*m);
        // message_start's output_tokens is a small placeholder, not the final count.
        if (auto u = json::field(*m, "usage"); u && json::is_object(*u)) {
          merge_usage(*u, usage_, /*take_output=*/false);
          saw_start_ = true;
        }
      }
    } else if (type == "message_delta") {
      if (auto u = json::field(doc, "usage"); u && json::is_object(*u)) {
        merge_usage(*u, usage_, /*take_output=*/true);
        saw_delta_ = true;
      }
    } else {
      note_error_doc(doc, call_);
    }
  }

  void finish(const StreamEnd& end) override {
    if (saw_message_ || saw_start_ || saw_delta_) call_.usage = usage_;
    if (saw_message_ || saw_delta_) return;
    if (saw_start_) {
      // Input was billed once generation began; output is unknown.
      call_.usage.output_tokens.reset();
      mark_usage_missing(call_, "stream ended before message_delta; output tokens unknown");
    } else if (end.status >= 400 || call_.error_type) {
      mark_usage_missing(call_, "error response carries no usage");
    } else if (end.streamed) {
      mark_usage_missing(call_, "stream ended before message_start");
    } else {
      mark_usage_missing(call_, "no usage in response");
    }
  }

 private:
  void take_message(json::Element m) {
    if (auto model = json::str(m, "model"); model && !model->empty())
      call_.response_model = std::string(*model);
    if (call_.response_id.empty()) {
      if (auto id = json::str(m, "id"); id && !id->empty()) call_.response_id = std::string(*id);
    }
  }

  LlmCall& call_;
  LlmUsage usage_;
  bool saw_message_ = false, saw_start_ = false, saw_delta_ = false;
};

}  // namespace

std::unique_ptr<UsageSink> make_anthropic_sink(LlmCall& call) {
  return std::make_unique<AnthropicSink>(call);
}

}  // namespace rein::llm
