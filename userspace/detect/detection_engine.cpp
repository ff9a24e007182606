#include "detect/detection_engine.h"

namespace rein::detect {

namespace {
constexpr uint64_t kSaveEveryNs = 30'000'000'000ULL;
}

DetectionEngine::DetectionEngine() {
  configure(cfg_);
}

void DetectionEngine::configure(const policy::DetectionsConfig& c) {
  cfg_ = c;
  retry_.configure(c.retry_spiral);
  hallucinated_.configure(c.hallucinated_endpoint);
  scope_.configure(c.scope_drift);
  cost_.configure(c.cost_anomaly);
  prompt_.configure(c.prompt_drift);
  secrets_.configure(c.secrets);
  ContentNeeds needs;
  needs.request_hash = c.retry_spiral.enabled;
  needs.prompt_shape = c.prompt_drift.enabled;
  needs.response_text = c.hallucinated_endpoint.enabled;
  extractor_.set_needs(needs);
}

const LlmContent& DetectionEngine::content(const proto::HttpExchange& ex) {
  LlmContent& c = extractor_.extract(ex);
  if ((scanner_ || scans_answered_) && secrets_.enabled() && !ex.request.body.empty()) {
    auto scan = [&] { return scanner_ ? scanner_->scan(ex.request.body) : SecretScanResult{}; };
    auto r = scan_hook_ ? scan_hook_(scan) : scan();
    c.secrets = std::move(r.findings);
    c.secrets_truncated = r.truncated || ex.request.body_truncated;
  }
  return c;
}

void DetectionEngine::set_time_format(TimeFormat f) {
  retry_.set_time_format(f);
  hallucinated_.set_time_format(f);
  scope_.set_time_format(f);
  cost_.set_time_format(f);
  prompt_.set_time_format(std::move(f));
}

Result<void> DetectionEngine::set_state_dir(const std::string& dir) {
  auto scope = scope_.load(dir + "/detect-baselines.json");
  auto prompts = prompt_.load(dir + "/detect-prompt-baselines.json");
  return !scope ? scope : prompts;
}

Result<void> DetectionEngine::flush() {
  auto scope = scope_.save();
  auto prompts = prompt_.save();
  return !scope ? scope : prompts;
}

std::vector<Detection> DetectionEngine::counted(std::vector<Detection> ds) {
  for (const auto& d : ds) counts_[d.kind]++;
  return ds;
}

std::vector<Detection> DetectionEngine::on_llm(const LlmFact& f) {
  std::vector<Detection> out;
  if (f.who.session.empty() || !f.call) return out;
  retry_.on_llm(f, out);
  hallucinated_.on_llm(f);
  cost_.on_llm(f, out);
  prompt_.on_llm(f, out);
  secrets_.on_llm(f, out);
  scope_.on_llm(f, out);
  return counted(std::move(out));
}

std::vector<Detection> DetectionEngine::on_dns(const DnsFact& f) {
  std::vector<Detection> out;
  if (f.who.session.empty()) return out;
  hallucinated_.on_dns(f, out);
  return counted(std::move(out));
}

std::vector<Detection> DetectionEngine::on_connect(const ConnectFact& f) {
  std::vector<Detection> out;
  if (f.who.session.empty()) return out;
  hallucinated_.on_connect(f, out);
  scope_.on_connect(f, out);
  return counted(std::move(out));
}

std::vector<Detection> DetectionEngine::on_http(const HttpFact& f) {
  std::vector<Detection> out;
  if (f.who.session.empty()) return out;
  hallucinated_.on_http(f, out);
  return counted(std::move(out));
}

std::vector<Detection> DetectionEngine::on_tls_failure(const TlsFailureFact& f) {
  std::vector<Detection> out;
  if (f.who.session.empty()) return out;
  hallucinated_.on_tls_failure(f, out);
  return counted(std::move(out));
}

std::vector<Detection> DetectionEngine::on_exec(const ExecFact& f) {
  std::vector<Detection> out;
  if (f.who.session.empty()) return out;
  hallucinated_.on_exec(f);
  scope_.on_exec(f, out);
  return counted(std::move(out));
}

std::vector<Detection> DetectionEngine::on_exit(const ExitFact& f) {
  std::vector<Detection> out;
  hallucinated_.on_exit(f, out);
  return counted(std::move(out));
}

std::vector<Detection> DetectionEngine::on_file(const FileFact& f) {
  std::vector<Detection> out;
  if (f.who.session.empty()) return out;
  scope_.on_file(f, out);
  return counted(std::move(out));
}

void DetectionEngine::on_session_end(std::string_view session) {
  retry_.on_session_end(session);
  hallucinated_.on_session_end(session);
  cost_.on_session_end(session);
  prompt_.on_session_end(session);
  secrets_.on_session_end(session);
}

void DetectionEngine::tick(uint64_t now) {
  cost_.tick(now);
  if ((scope_.dirty() || prompt_.dirty()) && now >= last_save_ns_ + kSaveEveryNs) {
    last_save_ns_ = now;
    if (scope_.dirty() && !scope_.save()) save_errors_++;
    if (prompt_.dirty() && !prompt_.save()) save_errors_++;
  }
}

size_t DetectionEngine::tracked() const {
  return retry_.tracked() + hallucinated_.tracked() + scope_.tracked() + cost_.tracked() +
         prompt_.tracked() + secrets_.tracked();
}

size_t DetectionEngine::state_bytes() const {
  return retry_.state_bytes() + hallucinated_.state_bytes() + scope_.state_bytes() +
         cost_.state_bytes() + prompt_.state_bytes() + secrets_.state_bytes() +
         extractor_.state_bytes();
}

}  // namespace rein::detect
