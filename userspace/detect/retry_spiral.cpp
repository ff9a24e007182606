#include "detect/retry_spiral.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "common/fnv1a.h"
#include "detect/state_bytes.h"
#include "llm/tool_calls.h"

namespace rein::detect {

namespace {
constexpr size_t kMaxSessions = 4096;
constexpr size_t kMaxSeriesPerSession = 256;
constexpr size_t kMaxAttempts = 1024;
constexpr size_t kMaxGapsShown = 16;

// Sweeps a session's series only once it is full: a sweep walks every series, and an agent
// whose requests all differ would pay it on every call. An expired series left until then
// judges as a fresh one (judge drops attempts outside the window first). A sweep that frees
// less than a quarter also drops the series whose last attempt is oldest, down to three
// quarters, so the next sweep is many calls away.
template <typename M>
void bound_series(M& m, uint64_t now, uint64_t window) {
  if (m.size() < kMaxSeriesPerSession) return;
  for (auto it = m.begin(); it != m.end();) {
    auto& a = it->second.attempts;
    if (a.empty() || (now > a.back().ts + window && now > it->second.quiet_until))
      it = m.erase(it);
    else
      ++it;
  }
  constexpr size_t kKeep = kMaxSeriesPerSession * 3 / 4;
  if (m.size() <= kKeep) return;
  std::vector<uint64_t> last;
  last.reserve(m.size());
  for (const auto& [k, s] : m) last.push_back(s.attempts.back().ts);
  const size_t drop = m.size() - kKeep;
  std::nth_element(last.begin(), last.begin() + long(drop - 1), last.end());
  const uint64_t cut = last[drop - 1];
  for (auto it = m.begin(); it != m.end() && m.size() > kKeep;)
    it = it->second.attempts.back().ts <= cut ? m.erase(it) : std::next(it);
}

// The tool calls of one response as one value (names and whole arguments, in order), 0 for
// none. The LLM stage already took them apart for the llm.call event; this reuses that.
uint64_t tool_calls_hash(const std::vector<llm::ToolCall>& calls) {
  if (calls.empty()) return 0;
  uint64_t h = kFnv1a64Offset;
  for (const auto& t : calls) {
    h = fnv1a64("\x1f", fnv1a64(t.name, h));
    const uint64_t a = t.arguments_hash;
    h = fnv1a64(std::string_view(reinterpret_cast<const char*>(&a), sizeof(a)), h);
  }
  return h | 1;
}

constexpr size_t kMaxToolNamesBytes = 512;

std::string tool_call_names(const std::vector<llm::ToolCall>& calls) {
  std::string out;
  for (const auto& t : calls) {
    if (out.size() >= kMaxToolNamesBytes) break;
    if (!out.empty()) out += ',';
    out.append(t.name.substr(0, 64));
  }
  return out;
}
}  // namespace

size_t RetrySpiralDetector::tracked() const {
  size_t n = 0;
  for (const auto& [k, s] : sessions_)
    n += 1 + s.failures.attempts.size() + s.requests.size() + s.tool_calls.size();
  return n;
}

size_t RetrySpiralDetector::state_bytes() const {
  auto series = [](const Series& s) {
    size_t b = s.attempts.capacity() * sizeof(Attempt);
    for (const auto& a : s.attempts) b += mem::str(a.response_id);
    return b;
  };
  size_t n = mem::nodes(sessions_);
  for (const auto& [k, s] : sessions_) {
    n += mem::str(k) + series(s.failures) + mem::nodes(s.requests) + mem::nodes(s.tool_calls);
    for (const auto& [h, r] : s.requests) n += series(r);
    for (const auto& [h, t] : s.tool_calls) n += series(t);
  }
  return n;
}

void RetrySpiralDetector::judge(const LlmFact& f, Series& s, const Attempt& a, std::string_view id,
                                uint32_t threshold, std::string_view pattern,
                                std::vector<Detection>& out) {
  auto keep = [&] {
    Attempt kept;
    kept.assign(a, id);
    s.attempts.push_back(std::move(kept));
  };
  const uint64_t window = uint64_t(cfg_.window.count()) * 1'000'000'000ULL;
  if (f.ts_ns < s.quiet_until) {
    // The same spiral goes on. quiet_until never moves back (an out-of-order fact must not
    // end it early), so when it ends every attempt older than this one is outside the
    // window: none is kept. A loop that spirals for hours holds one attempt, not 1024 that
    // it shifts on every call.
    s.quiet_until = std::max(s.quiet_until, f.ts_ns + window);
    if (s.attempts.size() == 1 && s.attempts.front().ts < f.ts_ns) {
      s.attempts.replace_only(a, id);
      return;
    }
    while (!s.attempts.empty() &&
           (s.attempts.front().ts < f.ts_ns || s.attempts.size() >= kMaxAttempts))
      s.attempts.pop_front();
    keep();
    return;
  }
  while (!s.attempts.empty() &&
         (f.ts_ns > s.attempts.front().ts + window || s.attempts.size() >= kMaxAttempts))
    s.attempts.pop_front();
  keep();
  if (s.attempts.size() < threshold) return;
  s.quiet_until = f.ts_ns + window;
  // What the repetition cost: every failed attempt, or every repeat after the first.
  const size_t first_wasted = pattern == "failures" ? 0 : 1;
  double usd = 0;
  int64_t tokens = 0;
  for (size_t i = first_wasted; i < s.attempts.size(); i++) {
    usd += s.attempts[i].usd;
    tokens += s.attempts[i].tokens;
  }
  // Back-off: did the gaps grow, and did they honour retry-after?
  std::vector<double> gaps;
  bool honoured = true, hinted = false;
  for (size_t i = 1; i < s.attempts.size(); i++) {
    // Facts can come out of order (a cut stream is judged when its stream is closed, after
    // the calls that followed it): no negative gaps.
    const uint64_t t1 = s.attempts[i].ts, t0 = s.attempts[i - 1].ts;
    double g = t1 > t0 ? double(t1 - t0) / 1e9 : 0;
    gaps.push_back(g);
    if (s.attempts[i - 1].retry_after_s >= 0) {
      hinted = true;
      if (g + 0.05 < s.attempts[i - 1].retry_after_s) honoured = false;
    }
  }
  bool grew = gaps.size() >= 2 && gaps.back() > gaps.front() * 1.5 && gaps.back() >= 0.5;
  const auto& call = *f.call;
  auto d = make_detection(
      "retry_spiral", f.who, f.ts_ns, cfg_.action,
      fmt::format("{} {} in {}s ({})", s.attempts.size(),
                  pattern == "failures"    ? "failed LLM calls"
                  : pattern == "identical" ? "near-identical LLM requests"
                                           : "identical tool calls from the model",
                  cfg_.window.count(),
                  call.request_model.empty() ? call.provider : call.request_model),
      [&](sinks::JsonWriter& w) {
        w.key("pattern");
        w.string(pattern);
        w.key("count");
        w.number(uint64_t(s.attempts.size()));
        w.key("window_s");
        w.number(int64_t(cfg_.window.count()));
        w.key("threshold");
        w.number(uint64_t(threshold));
        w.key("provider");
        w.string(call.provider);
        w.key("model");
        w.string(call.request_model);
        if (pattern == "tool_calls") {
          w.key("tool");
          w.string(tool_call_names(call.tool_calls));
        }
        w.key("first");
        w.string(time_ ? time_(s.attempts.front().ts) : fmt::format("{}", s.attempts.front().ts));
        w.key("last");
        w.string(time_ ? time_(s.attempts.back().ts) : fmt::format("{}", s.attempts.back().ts));
        w.key("statuses");
        w.begin_array();
        for (const auto& x : s.attempts) w.number(int64_t(x.status));
        w.end_array();
        w.key("cut_streams");
        w.number(uint64_t(std::count_if(s.attempts.begin(), s.attempts.end(),
                                        [](const Attempt& x) { return x.cut; })));
        w.key("response_ids");
        w.begin_array();
        for (const auto& x : s.attempts)
          if (!x.response_id.empty()) w.string(x.response_id);
        w.end_array();
        w.key("wasted_tokens");
        w.number(tokens);
        w.key("wasted_usd");
        w.number(usd);
        w.key("gaps_s");
        w.begin_array();
        for (size_t i = 0; i < gaps.size() && i < kMaxGapsShown; i++) w.number(gaps[i]);
        w.end_array();
        w.key("backoff");
        w.boolean(grew);
        w.key("retry_after_honoured");
        if (hinted)
          w.boolean(honoured);
        else
          w.null();
      });
  d.cost_usd = usd;
  d.tokens = tokens;
  out.push_back(std::move(d));
}

void RetrySpiralDetector::on_llm(const LlmFact& f, std::vector<Detection>& out) {
  if (!cfg_.enabled || f.who.session.empty() || !f.call) return;
  const auto& c = *f.call;
  auto [found, fresh] = find_or_emplace(sessions_, f.who.session);
  found->second.last = f.ts_ns;
  if (fresh && sessions_.size() > kMaxSessions) {  // eviction invalidates `found`
    bound_by_last(sessions_, kMaxSessions);
    found = sessions_.find(f.who.session);
    if (found == sessions_.end()) return;
  }
  Session& ses = found->second;
  const uint64_t window = uint64_t(cfg_.window.count()) * 1'000'000'000ULL;
  bound_series(ses.requests, f.ts_ns, window);
  bound_series(ses.tool_calls, f.ts_ns, window);
  // The id goes only into the attempt a series keeps (a spiral that goes on overwrites its
  // kept one's buffer): building it here was an allocation per call.
  const std::string_view id = std::string_view(c.response_id).substr(0, 128);
  const Attempt a{f.ts_ns,
                  c.status,
                  call_usd(c),
                  call_tokens(c),
                  c.retry_after_s.value_or(-1),
                  {},
                  // A stream cut before its end is a failure even though it began with 200.
                  f.content && f.content->response_cut && !call_failed(c)};
  if (call_failed(c) || a.cut) {
    judge(f, ses.failures, a, id, cfg_.failures, "failures", out);
    return;
  }
  ses.failures.quiet_until = 0;  // a success ends a failure spiral
  if (!ses.failures.attempts.empty()) ses.failures.attempts.clear();
  const uint64_t tools = tool_calls_hash(c.tool_calls);
  const uint64_t request = f.content ? f.content->request_hash : 0;
  if (request) judge(f, ses.requests[request], a, id, cfg_.identical, "identical", out);
  if (tools) judge(f, ses.tool_calls[tools], a, id, cfg_.tool_repeats, "tool_calls", out);
}

}  // namespace rein::detect
