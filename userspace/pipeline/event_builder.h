// Builds one JSON event line with the fields every event carries (design.md contract):
// type, time, process {...}, agent {...} or null; the caller adds the rest.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pipeline/arg_redaction.h"
#include "process/agent_registry.h"
#include "process/k8s_identity.h"
#include "process/process_info.h"
#include "sinks/json_writer.h"

namespace rein::pipeline {

// Converts CLOCK_BOOTTIME nanoseconds (what the kernel stamps) to RFC 3339 UTC with
// nanoseconds, using the offset measured at start-up.
class Clock {
 public:
  Clock();
  // Replay: the offset the live sensor measured (its capture's Context).
  explicit Clock(int64_t realtime_minus_boot_ns) : offset_ns_(realtime_minus_boot_ns) {}
  std::string rfc3339(uint64_t boot_ns) const;
  int64_t realtime_ns(uint64_t boot_ns) const;  // unix ns, saturated at both ends
  static uint64_t boot_now_ns();
  int64_t offset_ns() const { return offset_ns_; }

 private:
  int64_t offset_ns_;  // realtime - boottime
};

struct ProcessView {
  const process::ProcessInfo* info = nullptr;  // null when the table does not know the pid
  uint32_t pid = 0;
  std::string cgroup;                          // path under the cgroup v2 mount
};

class EventBuilder {
 public:
  explicit EventBuilder(const Clock& clock) : clock_(clock) {}
  // Starts an event; the writer is left inside the top-level object.
  sinks::JsonWriter& begin(std::string_view type, uint64_t boot_ns, const ProcessView& proc,
                           const process::Agent* agent);
  sinks::JsonWriter& writer() { return w_; }
  // Names pods from kubelet's log tree; without one, only the pod UID of the cgroup path.
  void set_k8s_identity(process::K8sIdentityResolver* k8s) { k8s_ = k8s; }
  // What the process block's "k8s" says for this cgroup path (nullopt: not in a pod).
  std::optional<process::K8sIdentity> k8s_identity(std::string_view cgroup);
  // Closes the object and returns the finished line (without newline).
  const std::string& finish();

 private:
  const Clock& clock_;
  sinks::JsonWriter w_;
  process::K8sIdentityResolver* k8s_ = nullptr;
  // The process and agent blocks of recent events by pid, rendered, with what they were
  // rendered from: the processes of a busy host send events in runs, and rendering a block
  // (redacting and escaping argv, paths) was most of the cost of a file event. Compared
  // field by field on every use, so a change is never missed; at most kMaxBlocks of each,
  // dropped all at once when full.
  static constexpr size_t kMaxBlocks = 256;
  struct ProcessBlock {
    bool has_info = false;
    uint32_t ppid = 0, uid = 0;
    std::string comm, exe, cgroup;
    std::vector<std::string> args;  // as the table had them, before redaction
    std::optional<process::K8sIdentity> k8s;
    std::string json;
  };
  struct AgentBlock {
    std::string id, name;
    std::string json;
  };
  std::unordered_map<uint32_t, ProcessBlock> process_blocks_;
  std::unordered_map<uint32_t, AgentBlock> agent_blocks_;  // by root pid
  sinks::JsonWriter scratch_;
  static bool process_block_fresh(const ProcessBlock& b, const ProcessView& proc,
                                  const std::optional<process::K8sIdentity>& k8s);
  void render_process_block(ProcessBlock& b, const ProcessView& proc,
                            std::optional<process::K8sIdentity> k8s);
  void render_agent_block(AgentBlock& b, const process::Agent& agent);
  // Clock::rfc3339 for the same second as the last event reuses its date and time
  // In time_text_, reused: a fresh string per event was an allocation per event.
  const std::string& time_text(uint64_t boot_ns);
  int64_t time_secs_ = -1;
  std::string time_prefix_;  // "YYYY-MM-DDTHH:MM:SS."
  std::string time_text_;
};

}  // namespace rein::pipeline
