// Everything after the event source: decode -> enrich (process table, agents, cgroups) ->
// analyze (write summaries, DNS pairing) -> JSON lines. It behaves the same on live ring
// buffer records and on replayed ones, so it is tested without root.
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
#include "pipeline/config_mutations.h"
#include "pipeline/connect_hold.h"
#include "pipeline/event_builder.h"
#include "pipeline/event_observer.h"
#include "pipeline/file_views.h"
#include "pipeline/input_journal.h"
#include "pipeline/llm_call_observer.h"
#include "pipeline/llm_event.h"
#include "pipeline/llm_stage.h"
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

// How the pipeline asks the kernel to track a process it selected in user space.
using TrackFn = std::function<Result<void>(uint32_t tgid, uint32_t agent_root, uint32_t selector,
                                           uint64_t start_ns)>;

struct PipelineStats {
  uint64_t records = 0;
  uint64_t decode_errors = 0;
  uint64_t events = 0;
  uint64_t candidates_matched = 0;
  uint64_t fd_table_full = 0;        // writes through an fd whose path we could not keep
  uint64_t close_without_open = 0;   // a write summary for an fd we never saw opened
  uint64_t dns_unparsed = 0;
  uint64_t dns_pending_dropped = 0;  // pending DNS queries evicted by the bound
  uint64_t dns_untrusted = 0;        // answers not from a trusted resolver to a sent query
  uint64_t connect_outcomes = 0;     // non-blocking connects reported with their outcome
  uint64_t connect_no_outcome = 0;   // ... released without one (timeout, exit, bound)
  uint64_t track_failed = 0;
  uint64_t tls_unobserved = 0;       // llm.unobserved events: agent TLS not decoded
};

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
  // Periodic work: unanswered DNS queries, table gc.
  void tick(uint64_t now_boot_ns);
  // A sensor.health event with kernel counters (by name) and pipeline counters.
  void emit_health(uint64_t now_boot_ns, std::string_view state,
                   const std::vector<std::pair<std::string, uint64_t>>& kernel_counters,
                   const std::function<void(sinks::JsonWriter&)>& extra = {});

  const PipelineStats& stats() const { return stats_; }
  const LlmStageStats& llm_stats() const { return llm_.stats(); }
  // Delivers what open streams hold (at shutdown).
  void finish(uint64_t now_boot_ns);
  // Policy: decisions are reported as policy.action events. Null: observe only.
  void set_enforcer(enforce::Enforcer* e);
  // A control-socket request (holds, approve ID, deny ID): the reply line.
  std::string control(const std::string& request);
  const process::ProcessTable& table() const { return table_; }
  // How the daemon's TLS hooks cover a process (reasons in llm.unobserved); unset in replay.
  void set_tls_coverage(TlsCoverageFn fn) { coverage_ = std::move(fn); }
  // Metrics: told about every event after the sink. Null: nobody listens.
  void set_observer(EventObserver* o) { observer_ = o; }
  // Pod names for the process block (kubelet's log tree); unset: only the pod UID.
  void set_k8s_identity(process::K8sIdentityResolver* k8s) { builder_.set_k8s_identity(k8s); }
  // Also sees every llm.call (the usage ledger); null: none. Not owned.
  void set_llm_call_observer(LlmCallObserver* o) { llm_observer_ = o; }
  // Detections (docs/detections.md): fed typed facts, emits detect.* events. Null: none.
  void set_detections(detect::DetectionEngine* d);
  // Capture and replay: live lookups go through it (input_journal.h). Null: asked directly.
  void set_input_journal(InputJournal* j) { journal_ = j; }
  // Replay: the wall-clock offset (realtime - boottime) the live sensor used.
  void set_clock_offset(int64_t realtime_minus_boot_ns) { clock_ = Clock(realtime_minus_boot_ns); }
  int64_t clock_offset() const { return clock_.offset_ns(); }

 private:
  struct PendingDns {
    uint64_t ts_ns;
    uint32_t tgid;
    std::string name;
    uint16_t type;
    std::string server;
    uint16_t port;
  };

  const process::Agent* agent_for(uint32_t agent_root);
  const process::Agent* start_agent(uint32_t root_pid, uint64_t ts_ns, uint32_t selector,
                                    std::string_view comm);
  ProcessView view(uint32_t pid);
  void emit(const std::string& line);
  void emit_detections(std::vector<detect::Detection> ds);
  detect::Who detect_who(uint32_t pid, uint32_t agent_root);
  // Live lookups, through journal_ when set (capture / replay).
  std::optional<std::string> ask(std::string_view key,
                                 const std::function<std::optional<std::string>()>& live);
  std::optional<std::string> cgroup_path(uint64_t cgroup_id);
  uint32_t self_pid();
  std::optional<FileViews> resolve_view(uint32_t tgid, uint32_t ppid, uint32_t agent,
                                        const std::string& path, bool follow_last);

  void on_exec(const decode::ExecRec& r);
  void on_fork(const decode::ForkRec& r);
  void on_exit(const decode::ExitRec& r);
  void on_file(const decode::FileRec& r);
  void on_mechanism(const decode::MechanismRec& r);
  std::vector<enforce::Decision> file_decisions(const enforce::Subject& who, std::string_view op,
                                                const std::string& path, const std::string& path2,
                                                const std::optional<FileViews>& real,
                                                const std::optional<FileViews>& real2, uint64_t ts);
  void on_file_open(const decode::FileOpenRec& r);
  void on_file_close(const decode::FileCloseRec& r);
  void on_connect(const decode::ConnectRec& r);
  void on_connect_outcome(const decode::ConnectOutcomeRec& r);
  void write_connect(const ReleasedConnect& c);
  void on_dns(const decode::DnsRec& r);
  static void write_question(sinks::JsonWriter& w, const PendingDns& q);
  void on_llm_call(const CallContext& ctx, const llm::LlmCall& call);
  void emit_agent_summary(uint32_t root, uint64_t ts);
  enforce::Subject subject(uint32_t pid, uint32_t agent_root);
  void emit_decisions(const std::vector<enforce::Decision>& ds, uint64_t ts);
  void on_policy_net(const decode::PolicyNetRec& r);
  void on_tls_hello(const decode::DataRec& r);
  void on_unobserved(const TlsConnection& c, uint64_t now_ns, bool partial);
  void emit_exec(uint32_t pid, uint64_t ts, bool existing, uint32_t flags);
  void emit_dns(const PendingDns& q, uint64_t ts, const void* answer_msg, uint32_t rcode);
  // config.mutation after a file change of a tracked agent, when the file has a config class.
  void config_mutation(const decode::Header& h, std::string_view op, const std::string& path,
                       const std::string& old_path);
  void file_event(const decode::Header& h, std::string_view op, const std::string& path,
                  int32_t result, const std::function<void(sinks::JsonWriter&)>& extra);

  SelectorSet selectors_;
  LineSink& sink_;
  TrackFn track_;
  process::CgroupResolver* cgroups_;
  Clock clock_;
  EventBuilder builder_{clock_};
  process::ProcessTable table_;
  process::AgentRegistry agents_;
  std::unordered_map<uint32_t, uint64_t> agent_start_;  // root pid -> start of its session
  // open file description -> path, for files tracked processes opened for writing; bounded.
  struct OpenFile {
    std::string path;
    uint32_t opener;
  };
  std::unordered_map<uint64_t, OpenFile> open_files_;
  // (socket cookie, DNS id) -> question, bounded; answered or timed out.
  std::map<std::pair<uint64_t, uint16_t>, PendingDns> dns_pending_;
  ConnectHold connect_hold_;  // EINPROGRESS connects waiting for their outcome
  // address -> hostname learned from DNS answers, bounded (cleared when full).
  std::unordered_map<std::string, std::string> hostnames_;
  std::unordered_map<std::string, AgentTotals> totals_;  // by agent id
  LlmStage llm_;
  enforce::Enforcer* enforcer_ = nullptr;
  ConfigMutationTracker config_;  // config.mutation: classes, snapshots, recent LLM calls
  FileViewResolver file_views_;  // real paths of name-based file ops (rules in user space)
  bool file_rules_ = false;      // the policy has file rules or file allow-lists
  std::unordered_map<uint32_t, bool> discovered_;  // agent root -> found by auto-discovery
  TlsCoverageFn coverage_;
  EventObserver* observer_ = nullptr;
  LlmCallObserver* llm_observer_ = nullptr;
  detect::DetectionEngine* detect_ = nullptr;
  std::optional<detect::LlmContent> llm_content_;  // of the exchange whose llm.call is next
  InputJournal* journal_ = nullptr;
  TlsWatch watch_{[this](const TlsConnection& c, uint64_t now, bool partial) {
    on_unobserved(c, now, partial);
  }};
  PipelineStats stats_;
};

}  // namespace rein::pipeline
