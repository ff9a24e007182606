#include "metrics/metrics_feed.h"

#include <algorithm>

#include "common/secret_redaction.h"
#include "llm/cost.h"
#include "metrics/pod_llm_metrics.h"
#include "metrics/token_counts.h"
#include "proto/decode_budget.h"

namespace rein::metrics {

namespace {
// OTel gen_ai.client.token.usage and gen_ai.client.operation.duration bucket advice.
const std::vector<double> kTokenBuckets = {
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
const std::vector<double> kDurationBuckets = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                              1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
Family family(std::string name, std::string help, Kind kind, std::vector<std::string> labels,
              std::vector<double> buckets = {}) {
  return Family{std::move(name), std::move(help), kind, std::move(labels), std::move(buckets)};
}

// An agent can outlive the registry's memory of it (evicted, or its exit unseen).
constexpr size_t kMaxActiveAgents = 16384;

// A label value from something a process sent (model name, agent name): never a secret.
std::string safe(std::string_view v, std::string_view if_empty = "unknown") {
  if (v.empty()) return std::string(if_empty);
  return redact_secret_tokens(v, RedactionMarker::kPlain);
}
}  // namespace

const std::vector<std::string_view>& kernel_drop_reasons() {
  static const std::vector<std::string_view> r = {
      "drop_ringbuf_full", "drop_pending_full", "drop_tracked_full",    "drop_openfile_full",
      "drop_conn_full",    "drop_track_quota",  "drop_data_budget",     "drop_control_ring",
      "path_truncated",    "args_truncated",    "dns_truncated",        "data_truncated",
      "data_read_failed",  "user_read_failed",  "connect_pending_full", "tls_records_padded"};
  return r;
}

const std::vector<std::string_view>& pipeline_drop_reasons() {
  static const std::vector<std::string_view> r = {
      "decode_errors",          "fd_table_full",        "dns_pending_dropped",
      "connect_no_outcome",     "http_streams_evicted", "process_table_evictions",
      "decode_budget_refusals", "output_write_errors", "llm_body_json_oversized",
      "llm_body_events_dropped", "http2_headers_dropped", "websocket_inflate_failures"};
  return r;
}

std::vector<std::pair<std::string, uint64_t>> pipeline_loss_counters(
    const pipeline::SensorPipeline& pipe, uint64_t output_write_errors) {
  const auto& s = pipe.stats();
  return {{"decode_errors", s.decode_errors},
          {"fd_table_full", s.fd_table_full},
          {"dns_pending_dropped", s.dns_pending_dropped},
          {"connect_no_outcome", s.connect_no_outcome},
          {"http_streams_evicted", pipe.llm_stats().streams_evicted},
          {"process_table_evictions", pipe.table().evictions()},
          {"decode_budget_refusals", proto::DecodeBudget::global().refusals()},
          {"output_write_errors", output_write_errors},
          {"llm_body_json_oversized", pipe.llm_stats().body_json_oversized},
          {"llm_body_events_dropped", pipe.llm_stats().body_events_dropped},
          {"http2_headers_dropped", pipe.llm_stats().http2_headers_dropped},
          {"websocket_inflate_failures", pipe.llm_stats().websocket_inflate_failures}};
}

MetricsFeed::MetricsFeed(FeedOptions opts)
    : registry_(RegistryLimits{
          {{"agent", opts.max_agents},
           {"gen_ai_request_model", opts.max_models},
           {kPodNamespaceLabel, opts.max_agents},  // pod_llm_metrics.h: as many as agents
           {kPodNameLabel, opts.max_agents},
           {kPodContainerLabel, opts.max_agents}},
          100, 2000}) {
  const std::vector<std::string> gen_ai = {"gen_ai_token_type", "gen_ai_provider_name",
                                           "gen_ai_request_model", "gen_ai_operation_name"};
  token_usage_ = registry_.add(family("gen_ai_client_token_usage",
                                      "Tokens per LLM call (OTel gen_ai.client.token.usage): input "
                                      "includes cached input, output includes reasoning",
                                      Kind::kHistogram, gen_ai, kTokenBuckets));
  duration_ = registry_.add(family(
      "gen_ai_client_operation_duration_seconds",
      "LLM call duration from request to the end of the response (OTel "
      "gen_ai.client.operation.duration)",
      Kind::kHistogram, {"gen_ai_provider_name", "gen_ai_request_model", "gen_ai_operation_name"},
      kDurationBuckets));
  cost_ = registry_.add(family("rein_llm_cost_usd_total",
                               "Dollars of LLM calls (the cost_usd of llm.call)", Kind::kCounter,
                               {"agent", "gen_ai_provider_name", "gen_ai_request_model"}));
  calls_ = registry_.add(family("rein_llm_calls_total",
                                "LLM calls by HTTP status (none: no response)", Kind::kCounter,
                                {"status", "gen_ai_provider_name", "gen_ai_request_model"}));
  tokens_ = registry_.add(
      family("rein_llm_tokens_total",
             "Tokens as the provider counted them (the usage of llm.call): input, "
             "output, cache_read, cache_creation, reasoning",
             Kind::kCounter,
             {"gen_ai_token_type", "agent", "gen_ai_provider_name", "gen_ai_request_model"}));
  policy_ =
      registry_.add(family("rein_policy_actions_total", "Policy decisions (policy.action events)",
                           Kind::kCounter, {"rule", "outcome"}));
  events_ = registry_.add(
      family("rein_events_total", "Events written, by type", Kind::kCounter, {"type"}));
  detections_ = registry_.add(family("rein_detections_total",
                                     "Detections (detect.<kind> events, docs/detections.md)",
                                     Kind::kCounter, {"kind"}));
  drops_ = registry_.add(
      family("rein_drops_total",
             "Events or data lost or cut, by the sensor.health counter that counts them",
             Kind::kCounter, {"reason"}));
  agents_active_ = registry_.add(
      family("rein_agents_active", "Agent sessions whose root process runs", Kind::kGauge, {}));
  tls_unobserved_ = registry_.add(family("rein_tls_unobserved_total",
                                         "Agent TLS connections whose plaintext was not decoded "
                                         "(llm.unobserved events)",
                                         Kind::kCounter, {}));
  build_info_ =
      registry_.add(family("rein_build_info", "Rein's version", Kind::kGauge, {"version"}));
  sensor_up_ = registry_.add(family("rein_sensor_up", "1 while the sensor runs", Kind::kGauge, {}));
  registry_.set(build_info_, {opts.version}, 1);
  registry_.set(sensor_up_, {}, 1);
  registry_.set(agents_active_, {}, 0);
  unobserved_cell_ = registry_.cell(tls_unobserved_, {});
  for (auto r : kernel_drop_reasons()) registry_.set(drops_, {r}, 0);
  for (auto r : pipeline_drop_reasons()) registry_.set(drops_, {r}, 0);
}

void MetricsFeed::on_event(std::string_view type) {
  if (type.empty()) return;
  auto it = event_cells_.find(type);
  if (it == event_cells_.end())
    it = event_cells_.emplace(std::string(type), registry_.cell(events_, {type})).first;
  registry_.inc(it->second);
  if (type == "llm.unobserved") registry_.inc(unobserved_cell_);
  if (type.size() > 7 && type.substr(0, 7) == "detect.")
    registry_.inc(detections_, {std::string(type.substr(7))});
}

void MetricsFeed::on_llm_call(const process::Agent* agent, const llm::LlmCall& call) {
  const std::string provider = safe(call.provider);
  const std::string model =
      safe(call.request_model.empty() ? call.response_model : call.request_model);
  const std::string op = safe(call.operation);
  const std::string who = agent ? safe(agent->name, "agent") : std::string("none");
  auto whole = registry_.batch();
  registry_.inc(calls_, {call.status ? std::to_string(call.status) : "none", provider, model});
  if (call.cost_usd) registry_.inc(cost_, {who, provider, model}, *call.cost_usd);
  if (call.latency_ms)
    registry_.observe(duration_, {provider, model, op}, *call.latency_ms / 1000.0);
  // OTel input counts cached input whatever the API's own convention (llm/cost.h).
  if (auto in = llm::total_input_tokens(call))
    registry_.observe(token_usage_, {"input", provider, model, op}, double(*in));
  if (call.usage.output_tokens)
    registry_.observe(token_usage_, {"output", provider, model, op},
                      double(*call.usage.output_tokens));
  for_each_token_count(call.usage, [&](const char* kind, int64_t n) {
    registry_.inc(tokens_, {kind, who, provider, model}, double(n));
  });
}

void MetricsFeed::on_policy_action(const enforce::Decision& d) {
  registry_.inc(policy_, {safe(d.rule), safe(d.outcome)});
}

void MetricsFeed::on_agent_started(const process::Agent& a) {
  if (active_.size() < kMaxActiveAgents) active_.insert(a.id);
  registry_.set(agents_active_, {}, double(active_.size()));
}

void MetricsFeed::on_agent_ended(const process::Agent& a) {
  active_.erase(a.id);
  registry_.set(agents_active_, {}, double(active_.size()));
}

void MetricsFeed::set_loss_counters(const std::vector<std::pair<std::string, uint64_t>>& named) {
  for (const auto& [name, v] : named) {
    const auto& k = kernel_drop_reasons();
    const auto& p = pipeline_drop_reasons();
    if (std::find(k.begin(), k.end(), name) != k.end() ||
        std::find(p.begin(), p.end(), name) != p.end())
      registry_.set(drops_, {name}, double(v));
  }
}

}  // namespace rein::metrics
