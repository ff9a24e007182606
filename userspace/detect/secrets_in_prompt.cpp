#include "detect/secrets_in_prompt.h"

#include <fmt/format.h>

#include "detect/state_bytes.h"

namespace rein::detect {

namespace {
constexpr size_t kMaxSessions = 4096;
constexpr size_t kMaxFingerprints = 1024;
}  // namespace

size_t SecretsInPromptDetector::tracked() const {
  size_t n = 0;
  for (const auto& [k, s] : seen_) n += 1 + s.fingerprints.size();
  return n;
}

size_t SecretsInPromptDetector::state_bytes() const {
  size_t n = mem::nodes(seen_);
  for (const auto& [k, s] : seen_) {
    n += mem::str(k) + mem::nodes(s.fingerprints);
    for (const auto& f : s.fingerprints) n += mem::str(f);
  }
  return n;
}

void SecretsInPromptDetector::on_llm(const LlmFact& f, std::vector<Detection>& out) {
  if (!cfg_.enabled || !f.content || f.content->secrets.empty() || f.who.session.empty()) return;
  auto [it, fresh] = find_or_emplace(seen_, f.who.session);
  it->second.last = f.ts_ns;
  if (fresh) bound_by_last(seen_, kMaxSessions);
  auto s = seen_.find(f.who.session);
  if (s == seen_.end()) return;
  std::vector<const SecretFinding*> fresh_findings;
  for (const auto& x : f.content->secrets) {
    if (!cfg_.pii && secret_type_is_pii(x.type)) continue;
    if (s->second.fingerprints.size() >= kMaxFingerprints) s->second.fingerprints.clear();
    if (s->second.fingerprints.insert(x.fingerprint).second) fresh_findings.push_back(&x);
  }
  if (fresh_findings.empty()) return;
  std::vector<SecretFinding> shown;
  for (const auto* x : fresh_findings) shown.push_back(*x);
  const auto& c = *f.call;
  out.push_back(
      make_detection("secret_in_prompt", f.who, f.ts_ns, cfg_.action,
                     fmt::format("{} sent to {} {}", summarize(shown), c.provider, c.request_model),
                     [&](sinks::JsonWriter& w) {
                       w.key("provider");
                       w.string(c.provider);
                       w.key("model");
                       w.string(c.request_model);
                       w.key("host");
                       w.string(c.host);
                       w.key("response_id");
                       if (c.response_id.empty())
                         w.null();
                       else
                         w.string(c.response_id);
                       w.key("scan_truncated");
                       w.boolean(f.content->secrets_truncated);
                       w.key("findings");
                       w.begin_array();
                       for (const auto& x : shown) {
                         w.begin_object();
                         w.key("type");
                         w.string(secret_type_name(x.type));
                         w.key("pii");
                         w.boolean(secret_type_is_pii(x.type));
                         w.key("count");
                         w.number(uint64_t(x.count));
                         w.key("fingerprint");
                         w.string(x.fingerprint);
                         w.key("locations");
                         w.begin_array();
                         for (const auto& l : x.locations) w.string(l);
                         w.end_array();
                         w.key("message_index");
                         if (x.message_index >= 0)
                           w.number(int64_t(x.message_index));
                         else
                           w.null();
                         w.key("escaped");
                         w.boolean(x.escaped);
                         w.end_object();
                       }
                       w.end_array();
                     }));
}

}  // namespace rein::detect
