// AWS Bedrock Runtime: Converse (JSON), ConverseStream (eventstream `metadata` event), and
// InvokeModel[WithResponseStream] whose bodies are model-native (Anthropic understood).
// Bedrock input counts exclude cache reads and writes, like Anthropic's.
#include <charconv>

#include "llm/usage_sink.h"
#include "llm/text_util.h"

namespace rein::llm {

namespace {

// Standard base64 (with or without padding); nullopt on any invalid character.
std::optional<std::string> base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::optional<int64_t> header_count(const proto::HttpResponse& resp, std::string_view name) {
  const std::string* v = proto::find_header(resp.headers, name);
  if (v == nullptr) return std::nullopt;
  std::string_view s = trim(*v);
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr != s.data() + s.size() || n < 0) return std::nullopt;
  return n;
}

// "ThrottlingException:http://internal.amazon.com/coral/..." -> "ThrottlingException"
std::string error_type_header(const proto::HttpResponse& resp) {
  const std::string* v = proto::find_header(resp.headers, "x-amzn-errortype");
  if (v == nullptr) return "";
  std::string_view s = trim(*v);
  return std::string(s.substr(0, s.find(':')));
}

void note_bedrock_body_error(json::Element doc, LlmCall& call, const std::string& type_hint) {
  auto msg = json::str(doc, "message");
  if (!msg) msg = json::str(doc, "Message");
  if (!msg && type_hint.empty()) return;
  note_error(call, type_hint.empty() ? "bedrock_error" : type_hint, msg.value_or(""));
}

class BedrockConverseSink : public UsageSink {
 public:
  BedrockConverseSink(LlmCall& call, const proto::HttpResponse& resp)
      : call_(call), error_hint_(error_type_header(resp)) {}

  void on_doc(json::Element doc, std::string_view event) override {
    if (!json::is_object(doc)) return;
    if (call_.status >= 400) {
      note_bedrock_body_error(doc, call_, error_hint_);
      return;
    }
    if (!event.empty() && event != "metadata") return;
    if (auto u = json::field(doc, "usage"); u && json::is_object(*u)) {
      LlmUsage out;
      out.input_tokens = json::count(*u, "inputTokens");
      out.output_tokens = json::count(*u, "outputTokens");
      out.cache_read_input_tokens = json::count(*u, "cacheReadInputTokens");
      out.cache_creation_input_tokens = json::count(*u, "cacheWriteInputTokens");
      call_.usage = out;
      have_usage_ = true;
    }
  }

  void on_exception(std::string_view type, std::string_view message) override {
    note_error(call_, type, message);
  }

  void finish(const StreamEnd& end) override {
    if (have_usage_) return;
    if (end.status >= 400 || call_.error_type) {
      mark_usage_missing(call_, "error response carries no usage");
    } else {
      mark_usage_missing(call_, end.streamed ? "stream ended before metadata event" : "no usage in response");
    }
  }

 private:
  LlmCall& call_;
  std::string error_hint_;
  bool have_usage_ = false;
};

class BedrockInvokeSink : public UsageSink {
 public:
  BedrockInvokeSink(LlmCall& call, const proto::HttpResponse& resp)
      : call_(call), resp_(resp), error_hint_(error_type_header(resp)), native_(make_anthropic_sink(call)) {}

  void on_doc(json::Element doc, std::string_view event) override {
    if (!json::is_object(doc)) return;
    if (call_.status >= 400) {
      note_bedrock_body_error(doc, call_, error_hint_);
      return;
    }
    if (event == "chunk") {
      // The model-native event is base64 inside {"bytes": ...}; copy it out before the
      // outer document's parser memory is reused.
      auto b64 = json::str(doc, "bytes");
      if (!b64) return;
      auto raw = base64_decode(*b64);
      if (!raw) return;
      json::Element inner;
      if (inner_parser_.parse(*raw, inner) != json::DocParser::Status::kOk) return;
      on_native(inner);
      return;
    }
    on_native(doc);
  }

  void on_exception(std::string_view type, std::string_view message) override {
    note_error(call_, type, message);
  }

  void finish(const StreamEnd& end) override {
    native_->finish(end);
    // The service's own counts cover every model family; prefer them over the body.
    std::optional<LlmUsage> service = metrics_;
    if (!service) {
      LlmUsage h;
      h.input_tokens = header_count(resp_, "x-amzn-bedrock-input-token-count");
      h.output_tokens = header_count(resp_, "x-amzn-bedrock-output-token-count");
      h.cache_read_input_tokens = header_count(resp_, "x-amzn-bedrock-cache-read-input-token-count");
      h.cache_creation_input_tokens = header_count(resp_, "x-amzn-bedrock-cache-write-input-token-count");
      if (h.input_tokens || h.output_tokens) service = h;
    }
    if (!service) return;
    LlmUsage merged = *service;
    // Only the Anthropic body splits cache writes by TTL; keep that split when consistent.
    if (call_.usage.cache_creation_1h_input_tokens && merged.cache_creation_input_tokens &&
        *call_.usage.cache_creation_1h_input_tokens <= *merged.cache_creation_input_tokens) {
      merged.cache_creation_1h_input_tokens = call_.usage.cache_creation_1h_input_tokens;
    }
    call_.usage = merged;
    if (merged.input_tokens && merged.output_tokens) {
      call_.usage_missing = false;
      call_.usage_note.clear();
    }
  }

 private:
  void on_native(json::Element doc) {
    if (auto m = json::field(doc, "amazon-bedrock-invocationMetrics"); m && json::is_object(*m)) {
      LlmUsage u;
      u.input_tokens = json::count(*m, "inputTokenCount");
      u.output_tokens = json::count(*m, "outputTokenCount");
      u.cache_read_input_tokens = json::count(*m, "cacheReadInputTokenCount");
      u.cache_creation_input_tokens = json::count(*m, "cacheWriteInputTokenCount");
      if (u.input_tokens || u.output_tokens) metrics_ = u;
    }
    native_->on_doc(doc, "");
  }

  LlmCall& call_;
  const proto::HttpResponse& resp_;
  std::string error_hint_;
  std::unique_ptr<UsageSink> native_;
  json::DocParser inner_parser_;
  std::optional<LlmUsage> metrics_;
};

}  // namespace

std::unique_ptr<UsageSink> make_bedrock_converse_sink(LlmCall& call, const proto::HttpResponse& resp) {
  return std::make_unique<BedrockConverseSink>(call, resp);
}

std::unique_ptr<UsageSink> make_bedrock_invoke_sink(LlmCall& call, const proto::HttpResponse& resp) {
  return std::make_unique<BedrockInvokeSink>(call, resp);
}

}  // namespace rein::llm
