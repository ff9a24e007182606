// A hook for consumers of every llm.call besides the JSON sink (the usage ledger): the
// same call and identity the event carries, without re-parsing the line.
#pragma once
#include <cstdint>
#include <string_view>

#include "llm/llm_call.h"
#include "process/agent_registry.h"

namespace rein::pipeline {

// Views into the pipeline's state: valid only during on_llm_call.
struct ObservedLlmCall {
  uint64_t boot_ns = 0;
  std::string_view time;  // the event's RFC 3339 time
  const process::Agent* agent = nullptr;
  uint32_t pid = 0;
  std::string_view exe, container_id;  // empty when unknown
  // Empty outside a pod, or where kubelet's log tree did not name them (the UID always is).
  std::string_view k8s_namespace, k8s_pod, k8s_pod_uid, k8s_container;
  const llm::LlmCall* call = nullptr;
};

class LlmCallObserver {
 public:
  virtual ~LlmCallObserver() = default;
  // Called on the pipeline thread: must not block for long.
  virtual void on_llm_call(const ObservedLlmCall& call) = 0;
  // Calls the observer failed to keep (reported as ledger_write_errors in sensor.health).
  virtual uint64_t write_errors() const { return 0; }
};

}  // namespace rein::pipeline
