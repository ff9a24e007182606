// Everything after the event source: decode -> enrich (process table, agents, cgroups) ->
// analyze (write summaries, DNS pairing) -> JSON lines. It behaves the same on live ring
// buffer records and on replayed ones, so it is tested without root.
// SensorPipeline only dispatches: what it knows lives in PipelineState (pipeline_state.h),
// the JSON of each event family in its formatter (process_events.h, file_events.h,
// net_events.h, ...), the enforcer and detector glue in PolicyBridge (policy_bridge.h).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "decode/records.h"
#include "detect/detection_engine.h"
#include "pipeline/config_bridge.h"
#include "pipeline/config_mutations.h"
#include "pipeline/connect_hold.h"
#include "pipeline/event_builder.h"
#include "pipeline/event_observer.h"
#include "pipeline/file_views.h"
#include "pipeline/input_journal.h"
#include "pipeline/llm_call_observer.h"
#include "pipeline/llm_event.h"
#include "pipeline/llm_stage.h"
#include "pipeline/pipeline_state.h"
#include "pipeline/proc_adoption.h"
#include "pipeline/policy_bridge.h"
#include "enforce/enforcer.h"
#include "pipeline/selectors.h"
#include "pipeline/tls_watch.h"
#include "process/agent_registry.h"
#include "process/cgroup_resolver.h"
#include "process/process_table.h"
#include "sinks/line_sink.h"

namespace rein::pipeline {

// Where finished JSON lines go (the interface lives in sinks/, below the pipeline).
using LineSink = sinks::LineSink;

// Prices and the key fingerprinter for LLM accounting; without them data records are
// decoded as HTTP but no llm.call is produced.
struct LlmConfig {
  const llm::PriceTable* prices = nullptr;
  const llm::Fingerprinter* fingerprinter = nullptr;
};

class SensorPipeline {
 public:
  SensorPipeline(SelectorSet selectors, LineSink& sink, TrackFn track,
                 process::CgroupResolver* cgroups, LlmConfig llm = {});

  void on_record(std::span<const uint8_t> bytes);
  // Seeds the process table from /proc and tracks processes matching the selectors, with
  // every descendant; emits process.exec with "existing": true for each. Returns the count.
  size_t adopt_existing(const std::string& proc_root = "/proc");
  size_t adopt_existing(const process::ProcSource& proc);
  // Periodic work: unanswered DNS queries, table gc.
  void tick(uint64_t now_boot_ns);
  // A sensor.health event with kernel counters (by name) and pipeline counters.
  void emit_health(uint64_t now_boot_ns, std::string_view state,
                   const std::vector<std::pair<std::string, uint64_t>>& kernel_counters,
                   const std::function<void(sinks::JsonWriter&)>& extra = {});

  const PipelineStats& stats() const { return state_.stats; }
  const LlmStageStats& llm_stats() const { return llm_.stats(); }
  // Delivers what open streams hold (at shutdown).
  void finish(uint64_t now_boot_ns);
  // Policy: decisions are reported as policy.action events. Null: observe only.
  void set_enforcer(enforce::Enforcer* e);
  // A control-socket request (holds, approve ID, deny ID): the reply line.
  std::string control(const std::string& request);
  const process::ProcessTable& table() const { return state_.table; }
  // How the daemon's TLS hooks cover a process (reasons in llm.unobserved); unset in replay.
  void set_tls_coverage(TlsCoverageFn fn) { coverage_ = std::move(fn); }
  // Metrics: told about every event after the sink. Null: nobody listens.
  void set_observer(EventObserver* o) { state_.observer = o; }
  // Pod names for the process block (kubelet's log tree); unset: only the pod UID.
  void set_k8s_identity(process::K8sIdentityResolver* k8s) { builder_.set_k8s_identity(k8s); }
  // Also sees every llm.call (the usage ledger); null: none. Not owned.
  void set_llm_call_observer(LlmCallObserver* o) { llm_observer_ = o; }
  // Detections (docs/detections.md): fed typed facts, emits detect.* events. Null: none.
  void set_detections(detect::DetectionEngine* d);
  // Capture and replay: live lookups go through it (input_journal.h). Null: asked directly.
  void set_input_journal(InputJournal* j) { state_.journal = j; }
  // Replay: the wall-clock offset (realtime - boottime) the live sensor used.
  void set_clock_offset(int64_t realtime_minus_boot_ns) { clock_ = Clock(realtime_minus_boot_ns); }
  int64_t clock_offset() const { return clock_.offset_ns(); }

 private:
  void emit(const std::string& line);

  // One handler per record type; each updates the state, writes its event(s) through the
  // formatters (process_events.h, file_events.h, net_events.h...) and hands the policy
  // bridge its part.
  void on_exec(const decode::ExecRec& r);
  void on_fork(const decode::ForkRec& r);
  void on_exit(const decode::ExitRec& r);
  void on_file(const decode::FileRec& r);
  void on_mechanism(const decode::MechanismRec& r);
  void on_file_open(const decode::FileOpenRec& r);
  void on_file_close(const decode::FileCloseRec& r);
  void on_connect(const decode::ConnectRec& r);
  void on_connect_outcome(const decode::ConnectOutcomeRec& r);
  void write_connect(const ReleasedConnect& c);
  void on_dns(const decode::DnsRec& r);
  void on_llm_call(const CallContext& ctx, const llm::LlmCall& call);
  void emit_agent_summary(uint32_t root, uint64_t ts);
  void on_tls_hello(const decode::DataRec& r);
  void on_unobserved(const TlsConnection& c, uint64_t now_ns, bool partial);
  void emit_exec(uint32_t pid, uint64_t ts, bool existing, uint32_t flags);
  void file_event(const decode::Header& h, std::string_view op, const std::string& path,
                  int32_t result, const std::function<void(sinks::JsonWriter&)>& extra);

  LineSink& sink_;
  TrackFn track_;
  Clock clock_;
  EventBuilder builder_{clock_};
  PipelineState state_;
  PolicyBridge policy_{state_, builder_, [this](const std::string& line) { emit(line); }};
  ConnectHold connect_hold_;  // EINPROGRESS connects waiting for their outcome
  LlmStage llm_;
  ConfigMutationTracker config_;  // config.mutation: classes, snapshots, recent LLM calls
  ConfigBridge config_events_{config_, state_, builder_, clock_,
                              [this](const std::string& line) { emit(line); }};
  TlsCoverageFn coverage_;
  LlmCallObserver* llm_observer_ = nullptr;
  TlsWatch watch_{[this](const TlsConnection& c, uint64_t now, bool partial) {
    on_unobserved(c, now, partial);
  }};
};

}  // namespace rein::pipeline
