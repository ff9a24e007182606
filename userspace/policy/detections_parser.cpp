#include <algorithm>
#include <fmt/format.h>

#include "policy/detections.h"
#include "policy/duration.h"
#include "policy/policy.h"
#include "policy/yaml_fields.h"
#include "policy/yaml_tree.h"

namespace rein::policy {

std::string_view detection_action_name(DetectionAction a) {
  switch (a) {
    case DetectionAction::kAlert:
      return "alert";
    case DetectionAction::kPause:
      return "pause";
    case DetectionAction::kKill:
      return "kill";
    case DetectionAction::kBlockLlm:
      return "block-llm";
  }
  return "alert";
}

namespace {

using Map = FieldReader::Map;
constexpr size_t kMaxBaselines = 1000;
constexpr size_t kMaxBaselineItems = 4096;

class DetectionsReader {
 public:
  explicit DetectionsReader(FieldReader& r) : r_(r) {}

  void base(const Map& m, DetectorBase& d) {
    if (const YamlNode* v = m.get("enabled"))
      if (auto b = r_.boolean(*v, m.field("enabled"))) d.enabled = *b;
    if (const YamlNode* v = m.get("action")) {
      if (auto s = r_.choice(*v, m.field("action"), {"alert", "block-llm", "pause", "kill"}))
        d.action = *s == "block-llm" ? DetectionAction::kBlockLlm
                   : *s == "pause"   ? DetectionAction::kPause
                   : *s == "kill"    ? DetectionAction::kKill
                                     : DetectionAction::kAlert;
    }
  }

  void seconds(const Map& m, std::string_view key, std::chrono::seconds& out,
               std::chrono::seconds min, std::chrono::seconds max) {
    const YamlNode* v = m.get(key);
    if (!v) return;
    const std::string f = m.field(key);
    auto s = r_.string(*v, f, 64);
    if (!s) return;
    auto d = parse_duration(*s);
    if (!d) {
      r_.error(*v, f, d.error().message);
      return;
    }
    if (*d < min || *d > max) {
      r_.error(*v, f,
               fmt::format("{} is outside {}..{}", *s, format_duration(min), format_duration(max)));
      return;
    }
    out = *d;
  }

  void count(const Map& m, std::string_view key, uint32_t& out, uint32_t min, uint32_t max) {
    if (const YamlNode* v = m.get(key))
      if (auto x = r_.integer(*v, m.field(key), min, max)) out = uint32_t(*x);
  }

  void number(const Map& m, std::string_view key, double& out, double min, double max) {
    const YamlNode* v = m.get(key);
    if (!v) return;
    auto x = r_.number(*v, m.field(key));
    if (x && (*x < min || *x > max)) {
      r_.error(*v, m.field(key), fmt::format("must be within {}..{}", min, max));
      return;
    }
    if (x) out = *x;
  }

  std::vector<std::string> strings(const Map& m, std::string_view key) {
    std::vector<std::string> out;
    const YamlNode* v = m.get(key);
    if (!v) return out;
    const std::string f = m.field(key);
    const auto* items = r_.list(*v, f, kMaxBaselineItems, true);
    if (!items) return out;
    for (size_t i = 0; i < items->size(); i++)
      if (auto s = r_.string((*items)[i], field_index(f, i), 1024)) out.push_back(std::move(*s));
    return out;
  }

  void retry_spiral(const YamlNode& n, const std::string& f, RetrySpiralConfig& c) {
    Map m = r_.map(n, f, {"enabled", "action", "window", "failures", "identical", "tool_repeats"});
    if (!m.ok()) return;
    base(m, c);
    seconds(m, "window", c.window, std::chrono::seconds{1}, std::chrono::seconds{86400});
    count(m, "failures", c.failures, 2, 100000);
    count(m, "identical", c.identical, 2, 100000);
    count(m, "tool_repeats", c.tool_repeats, 2, 100000);
  }

  void hallucinated(const YamlNode& n, const std::string& f, HallucinatedEndpointConfig& c) {
    Map m = r_.map(n, f, {"enabled", "action", "window", "packages"});
    if (!m.ok()) return;
    base(m, c);
    seconds(m, "window", c.window, std::chrono::seconds{1}, std::chrono::seconds{86400});
    if (const YamlNode* v = m.get("packages"))
      if (auto b = r_.boolean(*v, m.field("packages"))) c.packages = *b;
  }

  void scope_drift(const YamlNode& n, const std::string& f, ScopeDriftConfig& c) {
    Map m = r_.map(
        n, f, {"enabled", "action", "learn_for", "max_age", "max_events_per_hour", "baselines"});
    if (!m.ok()) return;
    base(m, c);
    seconds(m, "learn_for", c.learn_for, std::chrono::seconds{1}, kMaxDuration);
    seconds(m, "max_age", c.max_age, std::chrono::seconds{60}, kMaxDuration);
    count(m, "max_events_per_hour", c.max_events_per_hour, 1, 100000);
    const YamlNode* v = m.get("baselines");
    if (!v) return;
    const std::string lf = m.field("baselines");
    const auto* items = r_.list(*v, lf, kMaxBaselines, true);
    if (!items) return;
    for (size_t i = 0; i < items->size(); i++) {
      const std::string xf = field_index(lf, i);
      Map b = r_.map((*items)[i], xf,
                     {"agent", "executables", "directories", "hosts", "providers", "models"});
      if (!b.ok()) continue;
      DeclaredBaseline d;
      d.line = (*items)[i].line;
      d.column = (*items)[i].column;
      const YamlNode* a = b.require("agent");
      if (!a) continue;
      auto name = r_.string(*a, b.field("agent"), 256);
      if (!name) continue;
      for (const auto& prev : c.baselines)
        if (prev.agent == *name)
          r_.error(*a, b.field("agent"),
                   fmt::format("duplicate baseline for agent '{}' (first at line {})", *name,
                               prev.line));
      d.agent = *name;
      // A value that cannot match what the detector compares it with would make ordinary
      // activity "out of scope" (and, with kill or pause, act on it): refused here.
      auto check = [&](std::string_view key, std::vector<std::string>& xs, auto&& why_not) {
        for (size_t j = 0; j < xs.size(); j++)
          if (std::string why = why_not(xs[j]); !why.empty())
            r_.error(*b.get(key), field_index(b.field(key), j), fmt::format("'{}' {}", xs[j], why));
      };
      d.executables = strings(b, "executables");
      check("executables", d.executables, [](const std::string& x) -> std::string {
        return x.find('/') != std::string::npos && x.front() != '/'
                   ? "must be an absolute path or a bare file name"
                   : "";
      });
      d.directories = strings(b, "directories");
      for (auto& dir : d.directories)  // "/work/" is the directory "/work"
        while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      check("directories", d.directories, [](const std::string& x) -> std::string {
        if (x.empty() || x[0] != '/') return "is not an absolute path";
        if (x.find("/./") != std::string::npos || x.find("/../") != std::string::npos ||
            x.ends_with("/.") || x.ends_with("/..") || x.find("//") != std::string::npos)
          return "is not a normalized path (no '.', '..' or '//')";
        return "";
      });
      d.hosts = strings(b, "hosts");
      check("hosts", d.hosts, [](const std::string& x) -> std::string {
        return x.find_first_of("/ \t@") != std::string::npos
                   ? "is not a host name or address (with an optional :port; no scheme or path)"
                   : "";
      });
      d.providers = strings(b, "providers");
      check("providers", d.providers, [](const std::string& x) -> std::string {
        const auto& known = known_llm_providers();
        if (std::find(known.begin(), known.end(), x) != known.end()) return "";
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        return "is not a known provider (known: " + list + ")";
      });
      d.models = strings(b, "models");
      c.baselines.push_back(std::move(d));
    }
  }

  void cost_anomaly(const YamlNode& n, const std::string& f, CostAnomalyConfig& c) {
    Map m = r_.map(n, f,
                   {"enabled", "action", "alpha", "sigmas", "ratio", "min_usd", "min_samples",
                    "bucket", "growth_calls", "growth_factor"});
    if (!m.ok()) return;
    base(m, c);
    number(m, "alpha", c.alpha, 0.001, 1);
    number(m, "sigmas", c.sigmas, 0, 1000);
    number(m, "ratio", c.ratio, 1, 1e6);
    number(m, "min_usd", c.min_usd, 0, 1e9);
    count(m, "min_samples", c.min_samples, 1, 1000000);
    seconds(m, "bucket", c.bucket, std::chrono::seconds{1}, std::chrono::seconds{86400});
    count(m, "growth_calls", c.growth_calls, 2, 100000);
    number(m, "growth_factor", c.growth_factor, 1, 1e6);
  }

  void secrets(const YamlNode& n, const std::string& f, SecretsConfig& c) {
    Map m = r_.map(n, f, {"enabled", "action", "pii"});
    if (!m.ok()) return;
    base(m, c);
    if (const YamlNode* v = m.get("pii"))
      if (auto b = r_.boolean(*v, m.field("pii"))) c.pii = *b;
  }

  void prompt_drift(const YamlNode& n, const std::string& f, PromptDriftConfig& c) {
    Map m = r_.map(n, f, {"enabled", "action", "across_sessions"});
    if (!m.ok()) return;
    base(m, c);
    if (const YamlNode* v = m.get("across_sessions"))
      if (auto s = r_.choice(*v, m.field("across_sessions"), {"off", "tools", "all"}))
        c.across_sessions = *s == "off"   ? PromptDriftConfig::AcrossSessions::kOff
                            : *s == "all" ? PromptDriftConfig::AcrossSessions::kAll
                                          : PromptDriftConfig::AcrossSessions::kTools;
  }

  void simple(const YamlNode& n, const std::string& f, DetectorBase& c) {
    Map m = r_.map(n, f, {"enabled", "action"});
    if (m.ok()) base(m, c);
  }

 private:
  FieldReader& r_;
};

}  // namespace

void parse_detections(FieldReader& r, const YamlNode& n, const std::string& f,
                      DetectionsConfig& out) {
  Map m = r.map(n, f,
                {"retry_spiral", "hallucinated_endpoint", "scope_drift", "cost_anomaly",
                 "prompt_drift", "secrets"});
  if (!m.ok()) return;
  DetectionsReader d(r);
  if (const YamlNode* v = m.get("retry_spiral"))
    d.retry_spiral(*v, m.field("retry_spiral"), out.retry_spiral);
  if (const YamlNode* v = m.get("hallucinated_endpoint"))
    d.hallucinated(*v, m.field("hallucinated_endpoint"), out.hallucinated_endpoint);
  if (const YamlNode* v = m.get("scope_drift"))
    d.scope_drift(*v, m.field("scope_drift"), out.scope_drift);
  if (const YamlNode* v = m.get("cost_anomaly"))
    d.cost_anomaly(*v, m.field("cost_anomaly"), out.cost_anomaly);
  if (const YamlNode* v = m.get("prompt_drift"))
    d.prompt_drift(*v, m.field("prompt_drift"), out.prompt_drift);
  if (const YamlNode* v = m.get("secrets")) d.secrets(*v, m.field("secrets"), out.secrets);
}

}  // namespace rein::policy
