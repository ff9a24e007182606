#include "pipeline/recent_llm_calls.h"

#include <simdjson.h>

#include "llm/json_util.h"
#include "process/path_normalize.h"

namespace rein::pipeline {

namespace {

// String values of a JSON document, bounded in count (arguments are already bounded).
void strings_of(simdjson::dom::element e, std::vector<std::string>& out, int depth = 0) {
  if (out.size() >= 256 || depth > 16) return;
  using T = simdjson::dom::element_type;
  switch (e.type()) {
    case T::STRING: {
      std::string_view s;
      if (!e.get_string().get(s)) out.emplace_back(s);
      return;
    }
    case T::ARRAY:
      for (auto x : simdjson::dom::array(e)) strings_of(x, out, depth + 1);
      return;
    case T::OBJECT:
      for (auto kv : simdjson::dom::object(e)) strings_of(kv.value, out, depth + 1);
      return;
    default:
      return;
  }
}

}  // namespace

std::string_view tool_call_names_path(const llm::ToolCall& tc, std::string_view path,
                                      std::string_view cwd) {
  if (path.empty()) return {};
  std::vector<std::string> values;
  {
    llm::json::DocParser parser;
    llm::json::Element doc;
    if (parser.parse(tc.arguments, doc) == llm::json::DocParser::Status::kOk)
      strings_of(doc, values);
    else
      values.push_back(tc.arguments);  // cut or not JSON: search the text as it is
  }
  for (const auto& v : values) {
    if (v == path) return "exact";
  }
  for (const auto& v : values) {
    if (v.empty() || v.front() == '/' || v.size() > 4096 || cwd.empty()) continue;
    if (process::join_path(cwd, v) == path) return "relative";
  }
  for (const auto& v : values) {
    if (v.find(path) != std::string::npos) return "substring";
  }
  return {};
}

void RecentLlmCalls::add(const std::string& agent_id, uint64_t ts_ns, const llm::LlmCall& call) {
  if (limits_.max_agents == 0 || limits_.calls_per_agent == 0) return;
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    if (agents_.size() >= limits_.max_agents) {  // the quietest agent makes room
      auto oldest = agents_.begin();
      for (auto a = agents_.begin(); a != agents_.end(); ++a)
        if (a->second.last_ns < oldest->second.last_ns) oldest = a;
      agents_.erase(oldest);
    }
    it = agents_.emplace(agent_id, Agent{}).first;
  }
  Agent& a = it->second;
  a.last_ns = ts_ns;
  RecentCall* rc;
  if (a.ring.size() < limits_.calls_per_agent) {
    rc = &a.ring.emplace_back();
  } else {  // the oldest call's place, its strings' buffers reused
    rc = &a.ring[a.head];
    a.head = (a.head + 1) % a.ring.size();
  }
  rc->ts_ns = ts_ns;
  rc->response_id.assign(call.response_id);
  rc->model.assign(!call.response_model.empty() ? call.response_model : call.request_model);
  rc->provider.assign(call.provider);
  rc->tool_calls.assign(call.tool_calls.begin(), call.tool_calls.end());
  // tool calls per agent: the oldest calls lose theirs first
  size_t total = 0;
  for (const auto& c : a.ring) total += c.tool_calls.size();
  for (size_t i = 0; i < a.ring.size() && total > limits_.tool_calls_per_agent; i++) {
    auto& tc = a.oldest(i).tool_calls;
    size_t drop = std::min(tc.size(), total - limits_.tool_calls_per_agent);
    tc.erase(tc.begin(), tc.begin() + long(drop));
    total -= drop;
  }
}

std::optional<CausedBy> RecentLlmCalls::find(const std::string& agent_id, uint64_t ts_ns,
                                             std::string_view path, std::string_view cwd) const {
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  const Agent& a = it->second;
  std::optional<CausedBy> latest;
  uint32_t back = 0;
  for (size_t i = a.ring.size(); i-- > 0;) {  // newest first
    const RecentCall& c = a.oldest(i);
    if (c.ts_ns > ts_ns) continue;
    if (!latest) latest = CausedBy{&c, nullptr, {}, 0};
    for (const auto& tc : c.tool_calls) {
      auto how = tool_call_names_path(tc, path, cwd);
      if (!how.empty()) return CausedBy{&c, &tc, how, back};
    }
    back++;
  }
  return latest;
}

}  // namespace rein::pipeline
