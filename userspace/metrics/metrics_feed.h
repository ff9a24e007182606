// The sensor's metrics: declares every family (docs/operations.md "Metrics") and fills them
// from the pipeline's events (as its EventObserver) and from the kernel's and the
// pipeline's loss counters.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "metrics/metrics_registry.h"
#include "pipeline/event_observer.h"
#include "pipeline/sensor_pipeline.h"

namespace rein::metrics {

struct FeedOptions {
  std::string version;
  size_t max_agents = 50;  // distinct `agent` label values before "other"
  size_t max_models = 50;  // distinct `gen_ai_request_model` values before "other"
};

// Counters whose increase means events or data were lost or cut (rein_drops_total reasons):
// kernel counters by their sensor.health name, then pipeline ones.
const std::vector<std::string_view>& kernel_drop_reasons();
const std::vector<std::string_view>& pipeline_drop_reasons();
// The pipeline's loss counters, named as in sensor.health.
std::vector<std::pair<std::string, uint64_t>> pipeline_loss_counters(
    const pipeline::SensorPipeline& pipe, uint64_t output_write_errors);

class MetricsFeed : public pipeline::EventObserver {
 public:
  explicit MetricsFeed(FeedOptions opts);
  Registry& registry() { return registry_; }

  void on_event(std::string_view type) override;
  void on_llm_call(const process::Agent* agent, const llm::LlmCall& call) override;
  void on_policy_action(const enforce::Decision& d) override;
  void on_agent_started(const process::Agent& a) override;
  void on_agent_ended(const process::Agent& a) override;
  // Counters by name (kernel, or pipeline_loss_counters): those in the drop lists become
  // rein_drops_total{reason}; the others are ignored. Values are running totals.
  void set_loss_counters(const std::vector<std::pair<std::string, uint64_t>>& named);

 private:
  Registry registry_;
  Registry::FamilyId token_usage_, duration_, cost_, calls_, tokens_, policy_, events_, drops_,
      agents_active_, tls_unobserved_, build_info_, sensor_up_, detections_;
  std::unordered_set<std::string> active_;  // agent ids whose root has not exited
  // rein_events_total by type: found once per type, then one locked add per event
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Registry::Cell, Hash, std::equal_to<>> event_cells_;
  Registry::Cell unobserved_cell_;
};

}  // namespace rein::metrics
