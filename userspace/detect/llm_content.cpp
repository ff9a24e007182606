#include "detect/llm_content.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "llm/json_util.h"
#include "llm/text_util.h"
#include "proto/ndjson.h"
#include "proto/sse.h"

namespace rein::detect {

namespace json = llm::json;
using simdjson::dom::element_type;

uint64_t fnv1a(std::string_view s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string short_sha256(std::string_view s) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  if (EVP_Digest(s.data(), s.size(), md.data(), &n, EVP_sha256(), nullptr) != 1 || n < 8)
    return fmt::format("{:016x}", fnv1a(s));
  std::string out;
  for (unsigned i = 0; i < 8; i++) out += fmt::format("{:02x}", md[i]);
  return out;
}

namespace {

// By value: a range-for over get_object().value_unsafe() would iterate a dead temporary.
simdjson::dom::object obj_of(llm::json::Element e) {
  simdjson::dom::object o;
  (void)e.get_object().get(o);
  return o;
}
simdjson::dom::array arr_of(llm::json::Element e) {
  simdjson::dom::array a;
  (void)e.get_array().get(a);
  return a;
}

constexpr size_t kMaxDepth = 64;
constexpr size_t kMaxSystemBytes = 1 << 20;
constexpr size_t kMaxToolNamesBytes = 512;

// Request fields that differ between retries of the same request (ids, user tags, stream
// options) and so are left out of the near-identity hash.
bool volatile_key(std::string_view k) {
  static constexpr std::string_view kKeys[] = {
      "metadata",        "user",  "request_id", "prompt_cache_key", "safety_identifier",
      "stream_options",  "seed",  "store",      "service_tier",     "previous_response_id",
      "client_metadata", "labels"};
  return std::find(std::begin(kKeys), std::end(kKeys), k) != std::end(kKeys);
}

// Hash of a JSON value's content (key order kept: the same client serialises the same way).
uint64_t hash_value(json::Element e, uint64_t h, size_t depth) {
  const auto t = e.type();
  h = fnv1a(std::string_view(reinterpret_cast<const char*>(&t), 1), h);
  if (depth > kMaxDepth) return h;
  switch (t) {
    case element_type::OBJECT:
      for (auto [k, v] : obj_of(e)) {
        h = fnv1a(k, h);
        h = hash_value(v, h, depth + 1);
      }
      return h;
    case element_type::ARRAY:
      for (auto v : arr_of(e)) h = hash_value(v, h, depth + 1);
      return h;
    case element_type::STRING:
      return fnv1a(e.get_string().value_unsafe(), h);
    case element_type::INT64:
      return fnv1a(fmt::format("{}", e.get_int64().value_unsafe()), h);
    case element_type::UINT64:
      return fnv1a(fmt::format("{}", e.get_uint64().value_unsafe()), h);
    case element_type::DOUBLE:
      return fnv1a(fmt::format("{}", e.get_double().value_unsafe()), h);
    case element_type::BOOL:
      return fnv1a(e.get_bool().value_unsafe() ? "t" : "f", h);
    case element_type::NULL_VALUE:
      return h;
  }
  return h;
}

void append_bounded(std::string& out, std::string_view s, size_t max, bool& truncated) {
  if (out.size() >= max) {
    truncated |= !s.empty();
    return;
  }
  size_t n = std::min(s.size(), max - out.size());
  truncated |= n < s.size();
  out.append(s.substr(0, n));
}

// Text of a content value: a string, or an array of parts carrying "text".
void content_text(json::Element e, std::string& out, bool& truncated) {
  if (e.type() == element_type::STRING) {
    append_bounded(out, e.get_string().value_unsafe(), kMaxSystemBytes, truncated);
    return;
  }
  if (e.type() != element_type::ARRAY) return;
  for (auto part : arr_of(e)) {
    if (auto t = json::str(part, "text")) {
      if (!out.empty()) append_bounded(out, "\n", kMaxSystemBytes, truncated);
      append_bounded(out, *t, kMaxSystemBytes, truncated);
    } else if (part.type() == element_type::STRING) {
      append_bounded(out, part.get_string().value_unsafe(), kMaxSystemBytes, truncated);
    }
  }
}

TextShape shape_of(std::string_view text) {
  TextShape s;
  s.hash = short_sha256(text);
  s.size = text.size();
  size_t pos = 0;
  while (pos <= text.size() && s.line_hashes.size() < kMaxShapeLines) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    s.line_hashes.push_back(fnv1a(text.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return s;
}

// The system prompt as each API carries it.
std::optional<TextShape> system_prompt(json::Element root) {
  std::string text;
  bool truncated = false;
  bool found = false;
  if (auto v = json::field(root, "system")) {  // anthropic, ollama generate
    content_text(*v, text, truncated);
    found = true;
  }
  if (auto v = json::field(root, "instructions")) {  // openai responses
    content_text(*v, text, truncated);
    found = true;
  }
  for (auto key : {"systemInstruction", "system_instruction"})  // gemini
    if (auto v = json::path(root, {key, "parts"})) {
      content_text(*v, text, truncated);
      found = true;
    }
  for (auto key : {"messages", "input"}) {  // openai chat, ollama chat, responses input
    auto msgs = json::field(root, key);
    if (!msgs || !json::is_array(*msgs)) continue;
    for (auto m : arr_of(*msgs)) {
      auto role = json::str(m, "role");
      if (!role || (*role != "system" && *role != "developer")) continue;
      if (auto c = json::field(m, "content")) {
        if (!text.empty()) append_bounded(text, "\n", kMaxSystemBytes, truncated);
        content_text(*c, text, truncated);
        found = true;
      }
    }
  }
  if (!found) return std::nullopt;
  return shape_of(text);
}

uint64_t conversation_of(json::Element root) {
  for (auto key : {"messages", "input", "contents"}) {
    auto msgs = json::field(root, key);
    if (!msgs || !json::is_array(*msgs)) continue;
    for (auto m : arr_of(*msgs)) {
      auto role = json::str(m, "role");
      if (role && (*role == "system" || *role == "developer")) continue;
      return hash_value(m, fnv1a(key), 0) | 1;
    }
  }
  return 0;
}

std::optional<TextShape> tool_list(json::Element root) {
  auto tools = json::field(root, "tools");
  if (!tools || !json::is_array(*tools)) return std::nullopt;
  TextShape s;
  uint64_t h = hash_value(*tools, 1469598103934665603ULL, 0);
  s.hash = fmt::format("{:016x}", h);
  std::string serial;
  for (auto t : arr_of(*tools)) {
    std::optional<std::string_view> name = json::str(t, "name");
    if (!name) {
      if (auto f = json::field(t, "function")) name = json::str(*f, "name");
    }
    auto add = [&](std::string_view n) {
      if (s.names.size() < kMaxToolNames) s.names.emplace_back(n.substr(0, 128));
      s.line_hashes.push_back(fnv1a(fmt::format("{}", hash_value(t, fnv1a(n), 0))));
    };
    if (name) {
      add(*name);
    } else if (auto decls = json::field(t, "functionDeclarations");
               decls && json::is_array(*decls)) {
      for (auto d : arr_of(*decls))
        if (auto n = json::str(d, "name")) add(*n);
    } else if (auto type = json::str(t, "type")) {
      add(*type);  // built-in tools (web_search, code_interpreter)
    }
    if (s.line_hashes.size() >= kMaxShapeLines) break;
  }
  s.size = arr_of(*tools).size();
  return s;
}

}  // namespace

struct LlmContentExtractor::Impl {
  json::DocParser parser;
  LlmContent* out = nullptr;
  std::string tool_sig;
  bool tool_sig_truncated = false;

  // Assistant text and tool calls wherever the APIs put them (buffered or streamed).
  void walk(json::Element e, size_t depth, std::string_view key) {
    if (depth > kMaxDepth) return;
    switch (e.type()) {
      case element_type::STRING: {
        auto s = e.get_string().value_unsafe();
        if (key == "content" || key == "text" || key == "delta" || key == "response" ||
            key == "output_text")
          append_bounded(out->response_text, s, kMaxResponseText, out->response_text_truncated);
        else if (key == "arguments" || key == "partial_json")
          append_bounded(tool_sig, s, kMaxResponseText, tool_sig_truncated);
        return;
      }
      case element_type::OBJECT: {
        auto obj = obj_of(e);
        // a tool call: {"name": ..., "arguments"/"input"/"args": ...}
        auto name = json::str(e, "name");
        auto args = json::field(e, "input");
        if (!args) args = json::field(e, "args");
        auto type = json::str(e, "type");
        bool call = name && (json::field(e, "arguments") || args ||
                             (type && (*type == "tool_use" || *type == "function_call")));
        if (call) {
          append_bounded(tool_sig, "\x1f", kMaxResponseText, tool_sig_truncated);
          append_bounded(tool_sig, *name, kMaxResponseText, tool_sig_truncated);
          if (out->tool_call_names.size() < kMaxToolNamesBytes) {
            if (!out->tool_call_names.empty()) out->tool_call_names += ",";
            out->tool_call_names += std::string(name->substr(0, 64));
          }
          if (args && args->type() == element_type::OBJECT)
            append_bounded(tool_sig, fmt::format("{:x}", hash_value(*args, 1, 0)), kMaxResponseText,
                           tool_sig_truncated);
        }
        for (auto [k, v] : obj) walk(v, depth + 1, k);
        return;
      }
      case element_type::ARRAY:
        for (auto v : arr_of(e)) walk(v, depth + 1, key);
        return;
      default:
        return;
    }
  }

  void doc(std::string_view text) {
    json::Element d;
    if (parser.parse(text, d) == json::DocParser::Status::kOk) walk(d, 0, "");
  }

  void response(const proto::HttpResponse& r) {
    const std::string* ct = proto::find_header(r.headers, "content-type");
    std::string type = ct ? llm::to_lower(*ct) : "";
    std::string_view body = llm::trim(r.body);
    if (body.empty()) return;
    if (type.find("event-stream") != std::string::npos || llm::starts_with(body, "data:") ||
        llm::starts_with(body, "event:")) {
      proto::SseParser sse;
      auto on = [&](const proto::SseEvent& ev) {
        std::string_view data = llm::trim(ev.data);
        if (!data.empty() && data != "[DONE]") doc(data);
      };
      sse.feed(body, on);
      sse.finish(on);
      return;
    }
    if (type.find("ndjson") != std::string::npos ||
        (body.front() == '{' && body.find('\n') != std::string_view::npos &&
         body.find("}\n{") != std::string_view::npos)) {
      proto::NdjsonSplitter lines;
      auto on = [&](std::string_view line) { doc(line); };
      lines.feed(body, on);
      lines.finish(on);
      return;
    }
    doc(body);  // one document, or a streamed JSON array (Gemini) parsed whole
  }
};

LlmContentExtractor::LlmContentExtractor() : impl_(std::make_unique<Impl>()) {}
LlmContentExtractor::~LlmContentExtractor() = default;

LlmContent LlmContentExtractor::extract(const proto::HttpExchange& ex) {
  LlmContent c;
  json::Element root;
  if (!ex.request.body_truncated &&
      impl_->parser.parse(ex.request.body, root) == json::DocParser::Status::kOk &&
      json::is_object(root)) {
    c.request_parsed = true;
    uint64_t h = fnv1a(ex.request.target);
    for (auto [k, v] : obj_of(root)) {
      if (volatile_key(k)) continue;
      h = fnv1a(k, h);
      h = hash_value(v, h, 0);
    }
    c.request_hash = h ? h : 1;
    c.system_prompt = system_prompt(root);
    c.tools = tool_list(root);
    c.conversation = conversation_of(root);
  }
  if (ex.response && ex.response->status < 400) {
    impl_->out = &c;
    impl_->tool_sig.clear();
    impl_->tool_sig_truncated = false;
    impl_->response(*ex.response);
    impl_->out = nullptr;
    if (!impl_->tool_sig.empty()) c.tool_call_hash = fnv1a(impl_->tool_sig) | 1;
  }
  return c;
}

}  // namespace rein::detect
