// What the pipeline knows between records: processes, agent sessions, files open for
// writing, DNS questions waiting for their answer, hostnames learned from DNS and TLS,
// per-agent LLM totals and the counters of sensor.health, with the small lookups over them.
// Every bound on this state lives here.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "decode/records.h"
#include "pipeline/event_builder.h"
#include "pipeline/event_observer.h"
#include "pipeline/file_views.h"
#include "pipeline/input_journal.h"
#include "pipeline/llm_event.h"
#include "pipeline/selectors.h"
#include "process/agent_registry.h"
#include "process/cgroup_resolver.h"
#include "process/process_table.h"
#include "proto/dns.h"

namespace rein::pipeline {

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

// A DNS question sent, waiting for its answer (or its timeout).
struct PendingDns {
  uint64_t ts_ns;
  uint32_t tgid;
  std::string name;
  uint16_t type;
  std::string server;
  uint16_t port;
};

// Who did something: the process and its agent session. Built once (PipelineState::identity)
// for both the enforcer's Subject and the detectors' Who (policy_bridge.h).
struct Identity {
  uint32_t pid = 0;
  uint32_t agent_root = 0;
  const process::Agent* agent = nullptr;  // null: no agent session known for agent_root
  bool discovered = false;                // the agent was found by auto-discovery
};

class PipelineState {
 public:
  static constexpr size_t kMaxOpenFiles = 65536;
  static constexpr size_t kMaxPendingDns = 4096;
  static constexpr size_t kMaxHostnames = 16384;
  static constexpr uint64_t kDnsTimeoutNs = 5'000'000'000;

  PipelineState(SelectorSet selectors, process::CgroupResolver* cgroups)
      : selectors(std::move(selectors)), cgroups(cgroups) {}

  const process::Agent* agent_for(uint32_t agent_root);
  const process::Agent* start_agent(uint32_t root_pid, uint64_t ts_ns, uint32_t selector,
                                    std::string_view comm);
  // When the session of agent_root began (0: unknown).
  uint64_t agent_start_of(uint32_t agent_root);
  Identity identity(uint32_t pid, uint32_t agent_root);
  ProcessView view(uint32_t pid);
  // The hostname learned for an address; null when none.
  const std::string* hostname(const std::string& address) const;
  // Live lookups, through journal when set (capture / replay).
  std::optional<std::string> ask(std::string_view key,
                                 const std::function<std::optional<std::string>()>& live);
  std::optional<std::string> cgroup_path(uint64_t cgroup_id);
  uint32_t self_pid();
  std::optional<FileViews> resolve_view(uint32_t tgid, uint32_t ppid, uint32_t agent,
                                        const std::string& path, bool follow_last);

  // A file a tracked process opened for writing (not kept when the table is full).
  void remember_open(uint64_t file_id, const std::string& path, uint32_t opener);
  // The path of an open file, forgotten; nullopt when it was not kept.
  std::optional<std::string> take_open(uint64_t file_id);
  // The process exited: the kernel flushed its files' summaries before the exit record.
  void forget_opener(uint32_t tgid);

  // A trusted answer's addresses (A, AAAA) get `name`; returns them. An untrusted answer
  // teaches nothing: it must neither teach host rules (wildcards are learned from answers,
  // not in the kernel) nor label addresses with a name in later events.
  std::vector<std::string> learn_hostnames(const std::string& name, const proto::DnsMessage& msg,
                                           bool trusted);
  // A TLS server name for its peer address.
  void learn_hostname(const std::string& address, const std::string& name);

  // DNS pairing. A query is kept until its answer (the oldest goes when full); an answer
  // gives back its question (the answer's own when the query went out before we knew the
  // socket). nullopt: nothing to report (a query, or a message that is neither).
  std::optional<PendingDns> pair_dns(const decode::DnsRec& r, const proto::DnsMessage& msg);
  // Questions unanswered for kDnsTimeoutNs, removed, oldest key first.
  std::vector<PendingDns> expire_dns(uint64_t now);

  SelectorSet selectors;
  process::CgroupResolver* cgroups;
  InputJournal* journal = nullptr;
  EventObserver* observer = nullptr;  // told about agent sessions starting
  process::ProcessTable table;
  process::AgentRegistry agents;
  std::unordered_map<uint32_t, uint64_t> agent_start;  // root pid -> start of its session
  // open file description -> path, for files tracked processes opened for writing; bounded.
  struct OpenFile {
    std::string path;
    uint32_t opener;
  };
  std::unordered_map<uint64_t, OpenFile> open_files;
  // (socket cookie, DNS id) -> question, bounded; answered or timed out.
  std::map<std::pair<uint64_t, uint16_t>, PendingDns> dns_pending;
  // address -> hostname learned from DNS answers, bounded (cleared when full).
  std::unordered_map<std::string, std::string> hostnames;
  std::unordered_map<std::string, AgentTotals> totals;  // by agent id
  std::unordered_map<uint32_t, bool> discovered;        // agent root -> found by auto-discovery
  FileViewResolver file_views;  // real paths of name-based file ops (rules in user space)
  PipelineStats stats;
};

}  // namespace rein::pipeline
