#include "pipeline/health_event.h"

#include "proto/decode_budget.h"

namespace rein::pipeline {

const std::string& health_event(EventBuilder& b, uint64_t now, const ProcessView& self,
                                std::string_view state,
                                const std::vector<std::pair<std::string, uint64_t>>& kernel,
                                const PipelineState& s, const HealthSources& src,
                                const std::function<void(sinks::JsonWriter&)>& extra) {
  auto& w = b.begin("sensor.health", now, self, nullptr);
  w.key("state");
  w.string(state);
  w.key("kernel");
  w.begin_object();
  for (const auto& [k, v] : kernel) {
    w.key(k);
    w.number(v);
  }
  w.end_object();
  w.key("pipeline");
  w.begin_object();
  auto put = [&](const char* k, uint64_t v) { w.key(k); w.number(v); };
  const auto& stats = s.stats;
  put("records", stats.records);
  put("decode_errors", stats.decode_errors);
  put("events", stats.events);
  put("argv_matches", stats.candidates_matched);
  put("path_resolve_failed", src.path_resolve_failed);
  put("fd_table_full", stats.fd_table_full);
  put("close_without_open", stats.close_without_open);
  put("dns_unparsed", stats.dns_unparsed);
  put("dns_pending_dropped", stats.dns_pending_dropped);
  put("dns_untrusted", stats.dns_untrusted);
  put("connect_outcomes", stats.connect_outcomes);
  put("connect_no_outcome", stats.connect_no_outcome);
  put("track_failed", stats.track_failed);
  put("output_write_errors", src.output_write_errors);
  put("ledger_write_errors", src.ledger_write_errors);
  put("process_table_size", s.table.size());
  put("process_table_evictions", s.table.evictions());
  put("agents", s.agents.size());
  put("config_mutations", src.config.stats().events);
  put("config_before_missing", src.config.stats().before_missing);
  put("config_snapshots", src.config.snapshots().size());
  put("config_snapshots_evicted", src.config.snapshots().evicted());
  const auto& ls = src.llm;
  put("http_streams", ls.streams_opened);
  put("http_streams_evicted", ls.streams_evicted);
  put("http_exchanges", ls.exchanges);
  put("llm_calls", ls.llm_calls);
  put("http_not_llm", ls.not_llm);
  put("http2_streams", ls.http2_streams);
  put("websockets", ls.websockets);
  put("rustls_streams_bound", ls.rebound_streams);
  put("http_streams_reused", ls.reused_streams);
  put("http_streams_restarted", ls.restarted_streams);
  put("http_responses_abandoned", ls.abandoned_responses);
  put("http_stale_chunks", ls.stale_chunks);
  put("llm_body_json_invalid", ls.body_json_invalid);
  put("llm_body_json_oversized", ls.body_json_oversized);
  put("llm_body_events_dropped", ls.body_events_dropped);
  put("http2_headers_dropped", ls.http2_headers_dropped);
  put("http2_protocol_errors", ls.http2_protocol_errors);
  put("http2_streams_evicted", ls.http2_streams_evicted);
  put("websocket_inflate_failures", ls.websocket_inflate_failures);
  put("websocket_protocol_errors", ls.websocket_protocol_errors);
  put("tls_unobserved", stats.tls_unobserved);
  put("tls_watch_evicted", src.tls_watch_evicted);
  const auto& budget = proto::DecodeBudget::global();
  put("decode_budget_bytes", budget.limit());
  put("decode_in_use_bytes", budget.in_use());
  put("decode_peak_bytes", budget.peak());
  put("decode_budget_refusals", budget.refusals());
  put("decode_budget_agent_refusals", budget.owner_refusals());
  if (src.detect) {  // the detectors' memory bound, and baselines not saved
    put("detection_state_entries", src.detect->tracked());
    put("detection_state_bytes", src.detect->state_bytes());
    put("detection_save_errors", src.detect->save_errors());
  }
  w.end_object();
  w.key("agents");
  w.begin_array();
  for (const auto& [id, t] : s.totals) {
    w.begin_object();
    w.key("id");
    w.string(id);
    t.write(w);
    w.end_object();
  }
  w.end_array();
  if (extra) extra(w);
  return b.finish();
}

}  // namespace rein::pipeline
