// The detectors behind one interface the pipeline feeds with typed facts (detect/facts.h);
// each call returns the detections it caused, which the pipeline emits as detect.<kind>
// events and routes to the enforcer when their action is not "alert". Runs on the
// pipeline's thread. docs/detections.md describes every detector.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "detect/cost_anomaly.h"
#include "detect/facts.h"
#include "detect/hallucinated_endpoint.h"
#include "detect/llm_content.h"
#include "detect/prompt_drift.h"
#include "detect/retry_spiral.h"
#include "detect/scope_drift.h"
#include "detect/secrets_in_prompt.h"
#include "detect/time_meter.h"
#include "policy/detections.h"

namespace rein::detect {

class DetectionEngine {
 public:
  DetectionEngine();
  void configure(const policy::DetectionsConfig& c);
  const policy::DetectionsConfig& config() const { return cfg_; }
  void set_time_format(TimeFormat f);
  void set_wall_clock(WallClock c) {
    scope_.set_wall_clock(c);
    prompt_.set_wall_clock(std::move(c));
  }
  // Learned scope baselines live in DIR/detect-baselines.json, earlier sessions' prompts
  // in DIR/detect-prompt-baselines.json.
  Result<void> set_state_dir(const std::string& dir);

  // Bodies of an LLM exchange -> the few facts the detectors use (the bodies are not kept).
  // For the exchange llm::analyze just analysed with body_observer(), from that parse.
  // Valid until the next exchange's content (the extractor's own, see LlmContentExtractor).
  const LlmContent& content(const proto::HttpExchange& ex);
  llm::BodyObserver* body_observer() {
    return meter_.enabled() ? static_cast<llm::BodyObserver*>(&timed_observer_) : extractor_.observer();
  }
  // Off: the engine's calls are not timed (replay reports no detection time); before
  // body_observer() is taken.
  void set_timing(bool on) { meter_.set_enabled(on); }
  // The secrets/PII scanner for request bodies (detect.secret_in_prompt); null: not scanned.
  // Not owned.
  void set_secret_scanner(const SecretScanner* s) { scanner_ = s; }
  // Capture and replay (pipeline/capture_detections.h): every scan's result goes through
  // this hook; live it is recorded, in replay it is answered from the capture (which holds
  // no secret to scan again). `scan` runs the scanner. Empty: the scanner is called directly.
  using ScanHook = std::function<SecretScanResult(const std::function<SecretScanResult()>& scan)>;
  void set_scan_hook(ScanHook h) { scan_hook_ = std::move(h); }
  // Replay: every scan is answered by `h` from the capture, so no scanner is built (its
  // Hyperscan database would be loaded and checked for nothing).
  void set_scan_answers(ScanHook h) {
    scan_hook_ = std::move(h);
    scans_answered_ = true;
  }

  std::vector<Detection> on_llm(const LlmFact& f);
  std::vector<Detection> on_dns(const DnsFact& f);
  std::vector<Detection> on_connect(const ConnectFact& f);
  std::vector<Detection> on_http(const HttpFact& f);
  std::vector<Detection> on_tls_failure(const TlsFailureFact& f);
  std::vector<Detection> on_exec(const ExecFact& f);
  std::vector<Detection> on_exit(const ExitFact& f);
  std::vector<Detection> on_file(const FileFact& f);
  void on_session_end(std::string_view session);
  // Periodic: closes spend buckets, saves learned baselines (at most every 30 s).
  void tick(uint64_t now_ns);
  Result<void> flush();

  // Entries held by all detectors (the memory bound reported in sensor.health).
  size_t tracked() const;
  // Bytes those entries hold: an estimate from the containers' sizes (detect/state_bytes.h).
  size_t state_bytes() const;
  const std::map<std::string, uint64_t>& counts() const { return counts_; }
  uint64_t save_errors() const { return save_errors_; }
  // Callers time their calls into the engine, and the glue around them, with meter().scope();
  // body_observer()'s calls are timed here.
  TimeMeter& meter() { return meter_; }
  const TimeMeter& meter() const { return meter_; }

 private:
  // The extractor's observer, each call a meter scope.
  class TimedObserver final : public llm::BodyObserver {
   public:
    TimedObserver(llm::BodyObserver* inner, TimeMeter& m) : inner_(inner), m_(m) {}
    void begin(const proto::HttpExchange& ex, llm::Api api) override {
      auto t = m_.scope();
      inner_->begin(ex, api);
    }
    void on_request_doc(llm::json::Element root) override {
      auto t = m_.scope();
      inner_->on_request_doc(root);
    }
    void on_response_doc(llm::json::Element doc, std::string_view text,
                         const llm::DocHints& hints) override {
      auto t = m_.scope();
      inner_->on_response_doc(doc, text, hints);
    }

   private:
    llm::BodyObserver* inner_;
    TimeMeter& m_;
  };
  std::vector<Detection> counted(std::vector<Detection> ds);

  policy::DetectionsConfig cfg_;
  LlmContentExtractor extractor_;
  RetrySpiralDetector retry_;
  HallucinatedEndpointDetector hallucinated_;
  ScopeDriftDetector scope_;
  CostAnomalyDetector cost_;
  PromptDriftDetector prompt_;
  SecretsInPromptDetector secrets_;
  const SecretScanner* scanner_ = nullptr;
  ScanHook scan_hook_;
  bool scans_answered_ = false;
  std::map<std::string, uint64_t> counts_;  // detections by kind
  uint64_t last_save_ns_ = 0;
  uint64_t save_errors_ = 0;
  TimeMeter meter_;
  TimedObserver timed_observer_{extractor_.observer(), meter_};
};

}  // namespace rein::detect
