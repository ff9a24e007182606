#include <string>

#include "llm/key_fingerprint.h"
#include "llm/text_util.h"
#include "llm/usage_sink.h"

namespace rein::llm {

using simdjson::dom::element_type;

void UsageSink::on_exception(std::string_view type, std::string_view message) {}

void note_error(LlmCall& call, std::string_view type, std::string_view message) {
  if (call.error_type) return;
  call.error_type = truncate_utf8(redact_secrets(type.empty() ? "error" : type), 64);
  if (!message.empty()) {
    call.error_message = truncate_utf8(redact_secrets(message), kMaxErrorMessageBytes);
  }
}

namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The most specific low-cardinality name an error object offers.
std::string error_type_of(json::Element e) {
  if (auto s = json::str(e, "status"); s && !s->empty()) return std::string(*s);
  auto code = json::str(e, "code");
  if (code && !code->empty() && !all_digits(*code)) return std::string(*code);
  if (auto t = json::str(e, "type"); t && !t->empty()) return std::string(*t);
  if (code && !code->empty()) return std::string(*code);
  if (auto n = json::count(e, "code")) return std::to_string(*n);
  return "error";
}

}  // namespace

bool note_error_doc(json::Element doc, LlmCall& call) {
  if (!json::is_object(doc)) return false;
  return note_error_members(doc, json::field(doc, "error"), json::field(doc, "type"),
                            json::field(doc, "object"), call);
}

bool note_error_members(json::Element doc, std::optional<json::Element> err,
                        std::optional<json::Element> type_e, std::optional<json::Element> object_e,
                        LlmCall& call) {
  if (err) {
    if (err->type() == element_type::STRING) {
      std::string_view msg;
      if (err->get_string().get(msg)) msg = {};
      note_error(call, "error", msg);
      return true;
    }
    if (json::is_object(*err)) {
      note_error(call, error_type_of(*err), json::str(*err, "message").value_or(""));
      return true;
    }
    // "error": null appears on healthy OpenRouter / proxy chunks.
  }
  auto as_str = [](const std::optional<json::Element>& e) -> std::optional<std::string_view> {
    std::string_view s;
    if (!e || e->type() != element_type::STRING || e->get_string().get(s)) return std::nullopt;
    return s;
  };
  auto type = as_str(type_e);
  auto object = as_str(object_e);
  if ((type && *type == "error") || (object && *object == "error")) {
    std::string t = error_type_of(doc);
    if (t == "error" && type && *type != "error") t = std::string(*type);
    note_error(call, t, json::str(doc, "message").value_or(""));
    return true;
  }
  return false;
}

std::optional<double> gemini_retry_delay(json::Element doc) {
  auto details = json::path(doc, {"error", "details"});
  if (!details || !json::is_array(*details)) return std::nullopt;
  simdjson::dom::array arr;
  if (details->get_array().get(arr)) return std::nullopt;
  for (json::Element d : arr) {
    auto delay = json::str(d, "retryDelay");
    if (!delay || delay->empty() || delay->back() != 's') continue;
    if (auto v = parse_non_negative_double(delay->substr(0, delay->size() - 1))) return v;
  }
  return std::nullopt;
}

void bound_call_fields(LlmCall& call) {
  constexpr size_t kMaxName = 256, kMaxPath = 2048;
  for (std::string* f : {&call.request_model, &call.response_model, &call.response_id, &call.host})
    if (f->size() > kMaxName) *f = truncate_utf8(*f, kMaxName);
  if (call.path.size() > kMaxPath) call.path = truncate_utf8(call.path, kMaxPath);
}

void mark_usage_missing(LlmCall& call, std::string_view note) {
  call.usage_missing = true;
  if (call.usage_note.empty()) call.usage_note = std::string(note);
}

}  // namespace rein::llm
