#include "detect/prompt_drift.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>

#include "detect/state_bytes.h"

namespace rein::detect {

namespace {
constexpr size_t kMaxKeys = 8192;
constexpr size_t kMaxNamesShown = 16;

// What changed, against what, and in which call: how both comparisons start their event.
void write_call(sinks::JsonWriter& w, const LlmFact& f, std::string_view what,
                std::string_view compared_with) {
  w.key("what");
  w.string(what);
  w.key("compared_with");
  w.string(compared_with);
  w.key("provider");
  w.string(f.call->provider);
  w.key("model");
  w.string(f.call->request_model);
  w.key("response_id");
  if (f.call->response_id.empty())
    w.null();
  else
    w.string(f.call->response_id);
}

void write_shape(sinks::JsonWriter& w, std::string_view key, const TextShape& s, bool tools,
                 uint64_t ts, const TimeFormat& time) {
  w.key(key);
  w.begin_object();
  w.key("hash");
  w.string(s.hash);
  w.key(tools ? "tools" : "bytes");
  w.number(s.size);
  w.key("time");
  w.string(time ? time(ts) : fmt::format("{}", ts));
  w.end_object();
}

void write_names(sinks::JsonWriter& w, std::string_view key,
                 const std::vector<std::string>& names) {
  w.key(key);
  w.begin_array();
  for (size_t i = 0; i < names.size() && i < kMaxNamesShown; i++) w.string(names[i]);
  w.end_array();
}
}  // namespace

void PromptDriftDetector::on_session_end(std::string_view session) {
  baselines_.on_session_end(session);
  const std::string prefix = std::string(session) + "\x1f";
  for (auto it = last_.begin(); it != last_.end();)
    it = it->first.compare(0, prefix.size(), prefix) == 0 ? last_.erase(it) : std::next(it);
}

void PromptDriftDetector::compare(const LlmFact& f, std::string_view what, const TextShape& before,
                                  uint64_t before_ts, const TextShape& now,
                                  std::vector<Detection>& out) {
  if (before.hash == now.hash) return;
  // Multiset difference of line (or tool) hashes.
  std::map<uint64_t, int> count;
  for (auto h : before.line_hashes) count[h]--;
  for (auto h : now.line_hashes) count[h]++;
  uint64_t added = 0, removed = 0;
  for (auto [h, c] : count) (c > 0 ? added : removed) += uint64_t(std::abs(c));
  // A wholesale swap (less than half of the previous lines or tools kept) is the agent
  // switching mode or role (qwen-code swaps prompt and tools within one conversation), not
  // an edit of the prompt it had: not reported.
  if (!before.line_hashes.empty() && removed * 2 > before.line_hashes.size()) return;
  size_t first_change = 0;
  while (first_change < before.line_hashes.size() && first_change < now.line_hashes.size() &&
         before.line_hashes[first_change] == now.line_hashes[first_change])
    first_change++;
  std::vector<std::string> names_added, names_removed;
  for (const auto& n : now.names)
    if (std::find(before.names.begin(), before.names.end(), n) == before.names.end())
      names_added.push_back(n);
  for (const auto& n : before.names)
    if (std::find(now.names.begin(), now.names.end(), n) == now.names.end())
      names_removed.push_back(n);
  const bool tools = what == "tools";
  std::string summary =
      tools ? fmt::format("tool list changed: {} tools -> {}, +{} -{} definitions", before.size,
                          now.size, added, removed)
            : fmt::format("system prompt changed: {} -> {} bytes, +{} -{} lines from line {}",
                          before.size, now.size, added, removed, first_change + 1);
  auto d = make_detection("prompt_drift", f.who, f.ts_ns, cfg_.action, summary,
                          [&](sinks::JsonWriter& w) {
                            write_call(w, f, what, "previous_call");
                            write_shape(w, "before", before, tools, before_ts, time_);
                            write_shape(w, "after", now, tools, f.ts_ns, time_);
                            w.key("diff");
                            w.begin_object();
                            w.key(tools ? "definitions_added" : "lines_added");
                            w.number(added);
                            w.key(tools ? "definitions_removed" : "lines_removed");
                            w.number(removed);
                            if (tools) {
                              write_names(w, "tools_added", names_added);
                              write_names(w, "tools_removed", names_removed);
                            } else {
                              w.key("first_changed_line");
                              w.number(uint64_t(first_change + 1));
                            }
                            w.end_object();
                            w.key("summary");
                            w.string(summary);
                          });
  out.push_back(std::move(d));
}

size_t PromptDriftDetector::state_bytes() const {
  auto shape = [](const std::optional<TextShape>& s) {
    if (!s) return size_t{0};
    size_t b = mem::str(s->hash) + mem::vec(s->line_hashes) + mem::vec(s->names) +
               mem::vec(s->stable_hashes);
    for (const auto& name : s->names) b += mem::str(name);
    return b;
  };
  size_t n = mem::nodes(last_) + baselines_.state_bytes();
  for (const auto& [k, s] : last_) n += mem::str(k) + shape(s.system) + shape(s.tools);
  return n;
}

void PromptDriftDetector::on_llm(const LlmFact& f, std::vector<Detection>& out) {
  if (!cfg_.enabled || !f.content || !f.call || f.who.session.empty() || f.call->status >= 400)
    return;
  if (!f.content->system_prompt && !f.content->tools) return;
  // One conversation of one model: side tasks and sub-agents bring their own prompts.
  std::string key = fmt::format("{}\x1f{}\x1f{:x}", f.who.session, f.call->request_model,
                                f.content->conversation);
  auto [it, fresh] = last_.try_emplace(key);
  Seen& s = it->second;
  s.last = f.ts_ns;
  if (const auto& sp = f.content->system_prompt) {
    if (s.system) compare(f, "system_prompt", *s.system, s.system_ts, *sp, out);
    if (!s.system || s.system->hash != sp->hash) {
      s.system = *sp;
      s.system_ts = f.ts_ns;
    }
  }
  if (const auto& t = f.content->tools) {
    if (s.tools) compare(f, "tools", *s.tools, s.tools_ts, *t, out);
    if (!s.tools || s.tools->hash != t->hash) {
      s.tools = *t;
      s.tools_ts = f.ts_ns;
    }
  }
  if (fresh && last_.size() > kMaxKeys) bound_by_last(last_, kMaxKeys);
  using Across = policy::PromptDriftConfig::AcrossSessions;
  if (f.content->system_prompt && cfg_.across_sessions == Across::kAll)
    across_sessions(f, "system_prompt", *f.content->system_prompt, out);
  if (f.content->tools && cfg_.across_sessions != Across::kOff)
    across_sessions(f, "tools", *f.content->tools, out);
}

void PromptDriftDetector::across_sessions(const LlmFact& f, std::string_view what,
                                          const TextShape& now, std::vector<Detection>& out) {
  const int64_t t = wall_ ? wall_() : int64_t(::time(nullptr));
  auto d = baselines_.check(f.who.name, f.call->request_model, what, f.who.session, now.hash,
                            now.stable_hashes, t);
  if (!d) return;
  const bool tools = what == "tools";
  std::vector<std::string> names_added;
  if (tools)
    for (const auto& n : now.names)
      if (std::binary_search(d->added.begin(), d->added.end(), fnv1a(n))) names_added.push_back(n);
  std::string summary =
      tools ? fmt::format("tool list differs from {} earlier sessions: +{} tools",
                          d->baseline_sessions, d->added.size())
            : fmt::format("system prompt differs from {} earlier sessions: +{} -{} lines",
                          d->baseline_sessions, d->added.size(), d->removed);
  out.push_back(make_detection("prompt_drift", f.who, f.ts_ns, cfg_.action, summary,
                               [&](sinks::JsonWriter& w) {
                                 write_call(w, f, what, "earlier_sessions");
                                 w.key("baseline");
                                 w.begin_object();
                                 w.key("hash");
                                 w.string(d->baseline_hash);
                                 w.key("sessions");
                                 w.number(uint64_t(d->baseline_sessions));
                                 w.key(tools ? "tools" : "lines");
                                 w.number(d->baseline_lines);
                                 w.end_object();
                                 write_shape(w, "after", now, tools, f.ts_ns, time_);
                                 w.key("diff");
                                 w.begin_object();
                                 w.key(tools ? "definitions_added" : "lines_added");
                                 w.number(uint64_t(d->added.size()));
                                 w.key(tools ? "definitions_removed" : "lines_removed");
                                 w.number(d->removed);
                                 if (tools) write_names(w, "tools_added", names_added);
                                 w.end_object();
                                 w.key("summary");
                                 w.string(summary);
                               }));
}

}  // namespace rein::detect
