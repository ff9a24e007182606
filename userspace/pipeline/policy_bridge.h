// Between the pipeline's events and the policy: the enforcer's decisions (policy.action,
// control-socket requests, kernel decisions the records carry) and the detectors' findings
// (detect.*, an action other than alert going through the enforcer). Both see who acted
// through one Identity (pipeline_state.h), so enforce and detect stay independent.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "decode/records.h"
#include "detect/detection_engine.h"
#include "enforce/enforcer.h"
#include "pipeline/connect_hold.h"
#include "pipeline/event_builder.h"
#include "pipeline/file_views.h"
#include "pipeline/llm_stage.h"
#include "pipeline/pipeline_state.h"
#include "pipeline/tls_watch.h"

namespace rein::pipeline {

enforce::Subject to_subject(const Identity& id);
detect::Who to_who(const Identity& id);

class PolicyBridge {
 public:
  using Emit = std::function<void(const std::string&)>;
  PolicyBridge(PipelineState& state, EventBuilder& builder, Emit emit)
      : state_(state), builder_(builder), emit_(std::move(emit)) {}

  // Null: observe only. Also gives the file-view resolver the policy's rule directories.
  void set_enforcer(enforce::Enforcer* e);
  void set_detections(detect::DetectionEngine* d) { detect_ = d; }
  enforce::Enforcer* enforcer() const { return enforcer_; }
  detect::DetectionEngine* detections() const { return detect_; }
  // The policy has file rules or file allow-lists (resolving names is then worth its cost).
  bool file_rules() const { return file_rules_; }

  enforce::Subject subject(uint32_t pid, uint32_t agent_root);
  detect::Who who(uint32_t pid, uint32_t agent_root);
  void emit_decisions(const std::vector<enforce::Decision>& ds, uint64_t ts);
  void emit_detections(std::vector<detect::Detection> ds);
  // A control-socket request (holds, approve ID, deny ID): the reply line.
  std::string control(const std::string& request);
  void tick(uint64_t now);

  // The enforcer's part of each record; each does nothing without an enforcer.
  void on_policy_net(const decode::PolicyNetRec& r, const std::string* hostname);
  void on_exec(const decode::ExecRec& r, uint32_t agent);
  // path/path2 as written; real/real2: the resolved views, when they were resolved.
  void on_file(const decode::FileRec& r, std::string_view op, const std::string& path,
               const std::string& path2, const std::optional<FileViews>& real,
               const std::optional<FileViews>& real2);
  void on_file_open(const decode::FileOpenRec& r);
  void on_mechanism(const decode::MechanismRec& r);
  void on_tls_sni(const decode::DataRec& r, const std::string& sni);
  void on_dns_answer(uint32_t tgid, uint32_t agent_root, const std::string& name,
                     const std::vector<std::string>& addrs);
  void on_process_exit(uint32_t tgid);
  // Every decoded HTTP request (host-name rules); every exchange (detectors: LLM content for
  // the next llm.call, 404s); every llm.call of an agent (both).
  void on_http_request(const CallContext& ctx, const proto::HttpRequest& req);
  void on_http_exchange(const CallContext& ctx, const proto::HttpExchange& ex, bool is_llm);
  void on_llm_call(const CallContext& ctx, const process::Agent* agent, const llm::LlmCall& call);

  // The real paths of a name-based file operation (symlinked directories, "..",
  // /proc/self/root, chroot, bind mounts), resolved after the syscall only when a file rule
  // can use them and the kernel's rules did not already decide (docs/policy.md: the race
  // this leaves). real2: of path2 (rename, link).
  void resolve_real_paths(const decode::FileRec& r, const std::string& path,
                          const std::string& path2, std::optional<FileViews>& real,
                          std::optional<FileViews>& real2);

  // The detectors' part of each record; each does nothing without detections.
  void detect_exec(const decode::ExecRec& r, uint32_t agent);
  void detect_exit(const decode::ExitRec& r);
  void detect_file(const decode::Header& h, const std::string& path, std::string_view op,
                   int32_t result);
  // host: the hostname learned for the peer (null: none).
  void detect_connect(const ReleasedConnect& c, const std::string* host);
  void detect_dns(uint64_t ts, uint32_t tgid, uint32_t agent_root, const std::string& name,
                  uint32_t rcode);
  // A hooked process's TLS connection that never carried plaintext (failed handshake).
  void detect_tls_failure(const TlsConnection& c, uint32_t agent_root, uint64_t ts);

 private:
  std::vector<enforce::Decision> file_decisions(const enforce::Subject& who, std::string_view op,
                                                const std::string& path, const std::string& path2,
                                                const std::optional<FileViews>& real,
                                                const std::optional<FileViews>& real2, uint64_t ts);

  PipelineState& state_;
  EventBuilder& builder_;
  Emit emit_;
  enforce::Enforcer* enforcer_ = nullptr;
  detect::DetectionEngine* detect_ = nullptr;
  bool file_rules_ = false;
  // Of the exchange whose llm.call is next; the detection engine's, valid until its next.
  const detect::LlmContent* llm_content_ = nullptr;
};

}  // namespace rein::pipeline
