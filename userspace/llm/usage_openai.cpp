// OpenAI-shaped APIs: Chat Completions, legacy Completions and Embeddings (OpenAI, Azure,
// Groq, DeepSeek, Mistral, xAI, OpenRouter, Together, vLLM, LiteLLM, Ollama /v1), and the
// Responses API.
#include "llm/usage_sink.h"

namespace rein::llm {

namespace {

using simdjson::dom::element_type;

void take_model_and_id(json::Element obj, LlmCall& call) {
  // assign(), not a temporary: every streamed chunk repeats the model, and the string's
  // buffer from the first one is reused instead of allocated again
  if (auto m = json::str(obj, "model"); m && !m->empty()) call.response_model.assign(*m);
  if (call.response_id.empty()) {
    if (auto id = json::str(obj, "id"); id && !id->empty()) call.response_id.assign(*id);
  }
}

template <typename... Alts>
std::optional<int64_t> first_count(std::optional<int64_t> first, Alts... rest) {
  if (first) return first;
  if constexpr (sizeof...(rest) > 0) {
    return first_count(rest...);
  } else {
    return std::nullopt;
  }
}

class OpenAIChatSink : public UsageSink {
 public:
  OpenAIChatSink(LlmCall& call, Api api) : call_(call), api_(api) {}

  // Every streamed chunk comes here: its members are read in one pass (the first of each
  // name, as a lookup would find it) instead of a lookup each, and `choices` is handed on
  // to the body observer.
  void on_doc(json::Element doc, std::string_view) override {
    hints_ = {};
    if (!json::is_object(doc)) return;
    std::optional<json::Element> error, type, object, model, id, usage, x_groq, choices;
    const auto o = json::obj_of(doc);
    for (auto it = o.begin(), end = o.end(); it != end; ++it) {
      const std::string_view k = it.key();
      std::optional<json::Element>* slot = nullptr;
      switch (k.size()) {
        case 2:
          slot = k == "id" ? &id : nullptr;
          break;
        case 4:
          slot = k == "type" ? &type : nullptr;
          break;
        case 5:
          slot = k == "error" ? &error : k == "model" ? &model : k == "usage" ? &usage : nullptr;
          break;
        case 6:
          slot = k == "object" ? &object : k == "x_groq" ? &x_groq : nullptr;
          break;
        case 7:
          slot = k == "choices" ? &choices : nullptr;
          break;
        default:
          break;
      }
      if (slot && !*slot) *slot = it.value();
    }
    hints_.top_read = true;
    hints_.choices = choices;
    note_error_members(doc, error, type, object, call_);
    // assign(), not a temporary: every streamed chunk repeats the model, and the string's
    // buffer from the first one is reused instead of allocated again
    std::string_view sv;
    if (model && model->type() == element_type::STRING && !model->get_string().get(sv) &&
        !sv.empty())
      call_.response_model.assign(sv);
    if (call_.response_id.empty() && id && id->type() == element_type::STRING &&
        !id->get_string().get(sv) && !sv.empty())
      call_.response_id.assign(sv);
    // Keep the last non-null usage: OpenAI sends it once on a choices:[] chunk, Mistral and
    // DeepSeek on the final content chunk, vLLM cumulatively on every chunk, Groq under
    // x_groq.usage.
    if (usage && json::is_object(*usage)) {
      apply(*usage);
    } else if (auto g = x_groq ? json::field(*x_groq, "usage") : std::nullopt;
               g && json::is_object(*g)) {
      apply(*g);
    }
  }

  void finish(const StreamEnd& end) override {
    if (have_usage_) return;
    if (end.status >= 400 || (call_.error_type && !end.streamed)) {
      mark_usage_missing(call_, "error response carries no usage");
    } else if (!end.streamed) {
      mark_usage_missing(call_, "no usage in response");
    } else if (!end.include_usage_requested && api_ != Api::kOpenAIEmbeddings &&
               call_.provider != "groq" && call_.provider != "mistral_ai") {
      // OpenAI and most compatible servers only report streamed usage on request.
      mark_usage_missing(call_, end.saw_done || end.body_complete
                                    ? "no include_usage requested"
                                    : "stream ended before usage; no include_usage requested");
    } else if (!end.saw_done && !end.body_complete) {
      mark_usage_missing(call_, "stream ended before usage");
    } else {
      mark_usage_missing(call_, "no usage in stream");
    }
  }

 private:
  void apply(json::Element u) {
    LlmUsage out;
    out.input_tokens = first_count(json::count(u, "prompt_tokens"), json::count(u, "input_tokens"));
    if (api_ != Api::kOpenAIEmbeddings) {
      out.output_tokens =
          first_count(json::count(u, "completion_tokens"), json::count(u, "output_tokens"));
    }
    // DeepSeek: prompt_cache_hit_tokens (+ miss = prompt_tokens); others: cached_tokens.
    out.cache_read_input_tokens =
        first_count(json::count(u, "prompt_cache_hit_tokens"),
                    json::count_at(u, {"prompt_tokens_details", "cached_tokens"}),
                    json::count_at(u, {"input_tokens_details", "cached_tokens"}));
    // OpenRouter reports cache writes for upstreams that bill them (inside prompt_tokens).
    out.cache_creation_input_tokens =
        json::count_at(u, {"prompt_tokens_details", "cache_write_tokens"});
    out.reasoning_tokens =
        first_count(json::count_at(u, {"completion_tokens_details", "reasoning_tokens"}),
                    json::count_at(u, {"output_tokens_details", "reasoning_tokens"}));
    if (!out.input_tokens && !out.output_tokens) return;  // not a usage object after all
    call_.usage = out;
    have_usage_ = true;
    // OpenRouter bills in USD credits and says so; for BYOK the credit charge is only the
    // routing fee and the upstream provider bills the rest.
    if (auto cost = json::number(u, "cost"); cost && *cost >= 0) {
      double total = *cost;
      if (json::boolean(u, "is_byok").value_or(false)) {
        if (auto details = json::field(u, "cost_details")) {
          if (auto up = json::number(*details, "upstream_inference_cost"); up && *up >= 0) total += *up;
        }
      }
      call_.reported_cost_usd = total;
    }
  }

  LlmCall& call_;
  Api api_;
  bool have_usage_ = false;
};

class OpenAIResponsesSink : public UsageSink {
 public:
  explicit OpenAIResponsesSink(LlmCall& call) : call_(call) {}

  void on_doc(json::Element doc, std::string_view) override {
    if (!json::is_object(doc)) return;
    auto type = json::str(doc, "type");
    if (type && *type == "error") {
      note_error_doc(doc, call_);
      return;
    }
    std::optional<json::Element> resp;
    if (type && type->substr(0, 9) == "response.") {
      resp = json::field(doc, "response");
      if (*type == "response.completed" || *type == "response.incomplete" ||
          *type == "response.failed") {
        terminal_ = true;
      }
    } else if (json::str(doc, "object").value_or("") == "response") {
      resp = doc;  // buffered (non-stream) reply is the response object itself
      terminal_ = true;
    } else {
      note_error_doc(doc, call_);
      return;
    }
    if (!resp || !json::is_object(*resp)) return;
    take_model_and_id(*resp, call_);
    if (auto err = json::field(*resp, "error"); err && json::is_object(*err)) {
      note_error(call_, json::str(*err, "code").value_or("response_failed"),
                 json::str(*err, "message").value_or(""));
    }
    if (auto u = json::field(*resp, "usage"); u && json::is_object(*u)) {
      LlmUsage out;
      out.input_tokens = json::count(*u, "input_tokens");
      out.output_tokens = json::count(*u, "output_tokens");
      out.cache_read_input_tokens = json::count_at(*u, {"input_tokens_details", "cached_tokens"});
      out.reasoning_tokens = json::count_at(*u, {"output_tokens_details", "reasoning_tokens"});
      if (out.input_tokens || out.output_tokens) {
        call_.usage = out;
        have_usage_ = true;
      }
    }
  }

  void finish(const StreamEnd& end) override {
    if (have_usage_) return;
    if (end.status >= 400 || (call_.error_type && !end.streamed)) {
      mark_usage_missing(call_, "error response carries no usage");
    } else if (end.streamed && !terminal_) {
      mark_usage_missing(call_, "stream ended before response.completed");
    } else {
      mark_usage_missing(call_, end.streamed ? "no usage in terminal event" : "no usage in response");
    }
  }

 private:
  LlmCall& call_;
  bool terminal_ = false;
  bool have_usage_ = false;
};

}  // namespace

std::unique_ptr<UsageSink> make_openai_chat_sink(LlmCall& call, Api api) {
  return std::make_unique<OpenAIChatSink>(call, api);
}

std::unique_ptr<UsageSink> make_openai_responses_sink(LlmCall& call) {
  return std::make_unique<OpenAIResponsesSink>(call);
}

}  // namespace rein::llm
