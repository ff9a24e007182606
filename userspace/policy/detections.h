// The `detections:` section of a policy (docs/detections.md): per-detector switches,
// thresholds, windows and the action taken when one fires. Every field has a default, so
// an absent section (or no policy at all) runs every detector with conservative settings.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/diagnostic.h"

namespace rein::policy {

// The same effects as a budget's action (enforce/enforcer.h routes them alike).
enum class DetectionAction : uint8_t { kAlert, kPause, kKill, kBlockLlm };
std::string_view detection_action_name(DetectionAction a);

struct DetectorBase {
  bool enabled = true;
  DetectionAction action = DetectionAction::kAlert;
};

struct RetrySpiralConfig : DetectorBase {
  std::chrono::seconds window{120};
  uint32_t failures = 6;      // failed calls (429, 5xx, cut) of one session within the window
  uint32_t identical = 10;    // near-identical requests within the window
  uint32_t tool_repeats = 8;  // the model emitting the same tool call with the same arguments
};

struct HallucinatedEndpointConfig : DetectorBase {
  std::chrono::seconds window{600};  // how long a response's mentions stay "recent"
  bool packages = true;              // package installs of names from a response
};

// A declared baseline for one agent name: used instead of a learned one.
struct DeclaredBaseline {
  std::string agent;
  std::vector<std::string> executables;  // absolute paths or basenames
  std::vector<std::string> directories;  // a write under one of them is inside
  std::vector<std::string> hosts;        // "name", "name:port", "address" or "address:port"
  std::vector<std::string> providers;
  std::vector<std::string> models;
  uint32_t line = 0, column = 0;
};

struct ScopeDriftConfig : DetectorBase {
  std::chrono::seconds learn_for{3600};      // learning window per agent name
  std::chrono::seconds max_age{30 * 86400};  // baseline entries unseen this long expire
  uint32_t max_events_per_hour = 20;         // per agent name; the rest are counted
  std::vector<DeclaredBaseline> baselines;
};

struct CostAnomalyConfig : DetectorBase {
  double alpha = 0.1;               // EWMA weight of the newest sample
  double sigmas = 6;                // flag above mean + sigmas * deviation ...
  double ratio = 10;                // ... and above ratio * mean ...
  double min_usd = 0.05;            // ... and at least this much (per call, or per bucket)
  uint32_t min_samples = 20;        // history needed before judging
  std::chrono::seconds bucket{60};  // spend-rate bucket
  uint32_t growth_calls = 10;       // input tokens rising this many calls in a row ...
  double growth_factor = 3;         // ... and the last at least this times the first
};

struct PromptDriftConfig : DetectorBase {
  // What a session's first call is also compared with earlier sessions of the agent name
  // on: the tool list (default), the system prompt too (prompts carry git status, dates and
  // paths, so it is opt-in), or nothing.
  enum class AcrossSessions : uint8_t { kOff, kTools, kAll };
  AcrossSessions across_sessions = AcrossSessions::kTools;
};

// Secrets and PII in LLM request bodies (userspace/detect/secret_scanner.h).
struct SecretsConfig : DetectorBase {
  // Personal data (emails, phone numbers, cards, IBANs) too, not only credentials. Off by
  // default: coding agents routinely send the user's git e-mail.
  bool pii = false;
};

struct DetectionsConfig {
  RetrySpiralConfig retry_spiral;
  HallucinatedEndpointConfig hallucinated_endpoint;
  ScopeDriftConfig scope_drift;
  CostAnomalyConfig cost_anomaly;
  PromptDriftConfig prompt_drift;
  SecretsConfig secrets;
};

class FieldReader;
struct YamlNode;
// Reads the `detections:` mapping at `n` into `out`, reporting problems through `r`.
void parse_detections(FieldReader& r, const YamlNode& n, const std::string& field,
                      DetectionsConfig& out);

}  // namespace rein::policy
