#include "llm/tool_calls.h"

#include <map>

#include "common/fast_find.h"
#include "llm/json_util.h"
#include "llm/text_util.h"
#include "proto/sse.h"

namespace rein::llm {

namespace {

using simdjson::dom::element_type;

// One call under construction; `whole` once a complete form replaced the fragments.
struct Slot {
  ToolCall call;
  bool whole = false;
};

class Collector {
 public:
  explicit Collector(const ToolCallLimits& l) : limits_(l) {}

  Slot* slot(const std::string& key) {
    if (auto it = index_.find(key); it != index_.end()) return &slots_[it->second];
    if (slots_.size() >= limits_.max_calls) return nullptr;
    index_.emplace(key, slots_.size());
    slots_.emplace_back();
    return &slots_.back();
  }
  Slot* fresh() { return slot("#" + std::to_string(fresh_++)); }

  void set_id(Slot& s, std::string_view id) {
    if (!id.empty()) s.call.id = std::string(id.substr(0, limits_.max_id_bytes));
  }
  void set_name(Slot& s, std::string_view name) {
    if (!name.empty()) s.call.name = std::string(name.substr(0, limits_.max_id_bytes));
  }
  void append_args(Slot& s, std::string_view frag) {
    if (s.whole) return;
    s.call.arguments_hash = fnv1a64(frag, s.call.arguments_hash);
    size_t room =
        limits_.max_argument_bytes - std::min(limits_.max_argument_bytes, s.call.arguments.size());
    if (frag.size() > room) s.call.arguments_truncated = true;
    s.call.arguments.append(frag.substr(0, room));
  }
  void set_args(Slot& s, std::string_view whole) {
    s.call.arguments.clear();
    s.call.arguments_truncated = false;
    s.call.arguments_hash = kFnv1a64Offset;
    s.whole = false;
    append_args(s, whole);
    s.whole = true;
  }
  // An object or other value as arguments: its minified JSON text.
  void set_args_value(Slot& s, json::Element v) {
    if (v.type() == element_type::STRING) {
      std::string_view sv;
      if (!v.get_string().get(sv)) set_args(s, sv);
      return;
    }
    set_args(s, simdjson::to_string(v));
  }

  std::vector<ToolCall> take() {
    std::vector<ToolCall> out;
    out.reserve(slots_.size());
    for (auto& s : slots_) {
      if (s.call.name.empty() && s.call.id.empty()) continue;
      out.push_back(std::move(s.call));
    }
    return out;
  }

  const ToolCallLimits& limits_;

 private:
  std::vector<Slot> slots_;
  std::map<std::string, size_t> index_;
  uint64_t fresh_ = 0;
};

std::string_view sv_or(std::optional<std::string_view> v) {
  return v.value_or(std::string_view{});
}

std::string num_key(json::Element e, std::string_view key) {
  auto n = json::count(e, key);
  return n ? std::to_string(*n) : std::string("?");
}

void for_each(std::optional<json::Element> arr, const auto& fn) {
  if (!arr || !json::is_array(*arr)) return;
  size_t i = 0;
  for (json::Element x : simdjson::dom::array(*arr)) fn(x, i++);
}

// Anthropic content blocks: tool_use and its server-side and MCP siblings.
bool anthropic_tool_block(std::string_view type) {
  return type == "tool_use" || type == "server_tool_use" || type == "mcp_tool_use";
}

void anthropic_block(Collector& c, Slot* s, json::Element block, bool streaming) {
  if (!s) return;
  c.set_id(*s, sv_or(json::str(block, "id")));
  c.set_name(*s, sv_or(json::str(block, "name")));
  auto input = json::field(block, "input");
  // A streamed block starts with "input": {} and the real input follows as fragments.
  bool empty_obj = input && json::is_object(*input) && simdjson::dom::object(*input).size() == 0;
  if (input && !(streaming && empty_obj)) c.set_args_value(*s, *input);
}

// Responses API output items that call a tool.
void responses_item(Collector& c, Slot* s, json::Element item) {
  if (!s) return;
  std::string_view type = sv_or(json::str(item, "type"));
  if (type != "function_call" && type != "custom_tool_call" && type != "local_shell_call" &&
      type != "mcp_call" && type != "computer_call" && type != "shell_call" &&
      type != "apply_patch_call")
    return;
  auto call_id = json::str(item, "call_id");
  c.set_id(*s, call_id ? *call_id : sv_or(json::str(item, "id")));
  c.set_name(*s, type == "function_call" || type == "custom_tool_call" || type == "mcp_call"
                     ? sv_or(json::str(item, "name"))
                     : type);
  if (auto a = json::field(item, "arguments"))
    c.set_args_value(*s, *a);
  else if (auto in = json::field(item, "input"))
    c.set_args_value(*s, *in);
  else if (auto act = json::field(item, "action"))
    c.set_args_value(*s, *act);
  else if (auto op = json::field(item, "operation"))
    c.set_args_value(*s, *op);
}

void chat_message(Collector& c, json::Element msg, const std::string& choice, bool delta) {
  for_each(json::field(msg, "tool_calls"), [&](json::Element tc, size_t pos) {
    std::string key = "c:" + choice + ":" + (delta ? num_key(tc, "index") : std::to_string(pos));
    Slot* s = c.slot(key);
    if (!s) return;
    c.set_id(*s, sv_or(json::str(tc, "id")));
    auto fn = json::field(tc, "function");
    if (!fn) fn = json::field(tc, "custom");
    if (!fn) return;
    if (s->call.name.empty()) c.set_name(*s, sv_or(json::str(*fn, "name")));
    auto args = json::field(*fn, "arguments");
    if (!args) args = json::field(*fn, "input");
    if (!args) return;
    if (delta && args->type() == element_type::STRING)
      c.append_args(*s, sv_or(args->get_string().value_unsafe()));
    else
      c.set_args_value(*s, *args);
  });
  if (auto fc = json::field(msg, "function_call"); fc && json::is_object(*fc)) {
    Slot* s = c.slot("c:" + choice + ":legacy");
    if (!s) return;
    if (s->call.name.empty()) c.set_name(*s, sv_or(json::str(*fc, "name")));
    if (auto args = json::field(*fc, "arguments"); args && args->type() == element_type::STRING) {
      if (delta)
        c.append_args(*s, sv_or(args->get_string().value_unsafe()));
      else
        c.set_args_value(*s, *args);
    }
  }
}

void on_doc(Collector& c, json::Element doc) {
  if (!json::is_object(doc)) return;
  std::string_view type = sv_or(json::str(doc, "type"));

  // Anthropic, buffered message and stream events.
  if (type == "message") {
    for_each(json::field(doc, "content"), [&](json::Element b, size_t i) {
      if (anthropic_tool_block(sv_or(json::str(b, "type"))))
        anthropic_block(c, c.slot("a:" + std::to_string(i)), b, false);
    });
    return;
  }
  if (type == "content_block_start") {
    auto b = json::field(doc, "content_block");
    if (b && anthropic_tool_block(sv_or(json::str(*b, "type"))))
      anthropic_block(c, c.slot("a:" + num_key(doc, "index")), *b, true);
    return;
  }
  if (type == "content_block_delta") {
    auto d = json::field(doc, "delta");
    if (!d || sv_or(json::str(*d, "type")) != "input_json_delta") return;
    Slot* s = c.slot("a:" + num_key(doc, "index"));
    if (s) c.append_args(*s, sv_or(json::str(*d, "partial_json")));
    return;
  }

  // Responses API stream events and the buffered response object.
  if (type == "response.output_item.added" || type == "response.output_item.done") {
    if (auto item = json::field(doc, "item")) {
      std::string_view it = sv_or(json::str(*item, "type"));
      if (it == "message" || it == "reasoning" || it.empty()) return;
      Slot* s = c.slot("r:" + num_key(doc, "output_index"));
      if (!s) return;
      bool was_whole = s->whole;
      std::string kept = s->call.arguments;
      bool kept_trunc = s->call.arguments_truncated;
      responses_item(c, s, *item);
      // added carries "arguments": "" before the deltas; only done is whole.
      if (type == "response.output_item.added") {
        s->whole = was_whole;
        if (!was_whole) {
          s->call.arguments = kept;
          s->call.arguments_truncated = kept_trunc;
        }
      }
    }
    return;
  }
  if (type == "response.function_call_arguments.delta" ||
      type == "response.custom_tool_call_input.delta") {
    if (Slot* s = c.slot("r:" + num_key(doc, "output_index")))
      c.append_args(*s, sv_or(json::str(doc, "delta")));
    return;
  }
  if (type == "response.function_call_arguments.done") {
    if (Slot* s = c.slot("r:" + num_key(doc, "output_index")))
      if (auto a = json::str(doc, "arguments")) c.set_args(*s, *a);
    return;
  }
  std::optional<json::Element> response;
  if (type == "response.completed" || type == "response.incomplete" || type == "response.done")
    response = json::field(doc, "response");
  else if (sv_or(json::str(doc, "object")) == "response")
    response = doc;
  if (response) {
    for_each(json::field(*response, "output"), [&](json::Element item, size_t i) {
      std::string_view it = sv_or(json::str(item, "type"));
      if (it == "message" || it == "reasoning" || it.empty()) return;
      responses_item(c, c.slot("r:" + std::to_string(i)), item);
    });
    return;
  }

  // OpenAI Chat Completions, buffered and streamed (and every compatible API).
  if (auto choices = json::field(doc, "choices")) {
    for_each(choices, [&](json::Element ch, size_t pos) {
      auto idx = json::count(ch, "index");
      std::string choice = idx ? std::to_string(*idx) : std::to_string(pos);
      if (auto m = json::field(ch, "message")) chat_message(c, *m, choice, false);
      if (auto d = json::field(ch, "delta")) chat_message(c, *d, choice, true);
    });
    return;
  }

  // Gemini: every chunk holds whole parts.
  for_each(json::field(doc, "candidates"), [&](json::Element cand, size_t) {
    for_each(json::path(cand, {"content", "parts"}), [&](json::Element part, size_t) {
      auto fc = json::field(part, "functionCall");
      if (!fc || !json::is_object(*fc)) return;
      Slot* s = c.fresh();
      if (!s) return;
      c.set_id(*s, sv_or(json::str(*fc, "id")));
      c.set_name(*s, sv_or(json::str(*fc, "name")));
      if (auto a = json::field(*fc, "args")) c.set_args_value(*s, *a);
    });
  });
}

}  // namespace

bool may_have_tool_calls(std::string_view body) {
  // Runs over every LLM response: one pass for three needles that stand for the ten item
  // types (tool_calls, function_call, custom_tool_call, local_shell_call, mcp_call,
  // computer_call, shell_call, apply_patch_call all hold "_call").
  return fast_contains_any(body, {"_call", "tool_use", "functionCall"});
}

std::vector<ToolCall> extract_tool_calls(std::string_view body, std::string_view content_type,
                                         const ToolCallLimits& limits) {
  if (limits.max_calls == 0 || !may_have_tool_calls(body)) return {};
  Collector c(limits);
  json::DocParser parser;
  auto feed = [&](std::string_view text) {
    json::Element doc;
    if (parser.parse(text, doc) == json::DocParser::Status::kOk) on_doc(c, doc);
  };
  std::string ct = to_lower(content_type);
  std::string_view t = trim(body);
  bool sse = ct.find("text/event-stream") != std::string::npos || starts_with(t, "data:") ||
             starts_with(t, "event:") || (!t.empty() && t.front() == ':');
  if (sse) {
    proto::SseParser parser_sse;
    auto on_event = [&](const proto::SseEvent& ev) {
      std::string_view data = trim(ev.data);
      if (data.empty() || data.front() != '{') return;
      feed(data);
    };
    parser_sse.feed(body, on_event);
    parser_sse.finish(on_event);
  } else if (!t.empty() && t.front() == '[') {
    // Gemini's streamed JSON array without alt=sse: one document holding every chunk.
    json::Element doc;
    if (parser.parse(t, doc) == json::DocParser::Status::kOk && json::is_array(doc))
      for (json::Element x : simdjson::dom::array(doc)) on_doc(c, x);
  } else {
    feed(t);
  }
  return c.take();
}

}  // namespace rein::llm
