// Typed facts the pipeline hands the detection engine, and the detections it gets back.
// Views are valid only during the call that passes them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detect/llm_content.h"
#include "llm/llm_call.h"
#include "policy/detections.h"

namespace rein::detect {

// The agent an action belongs to. Facts without an agent are not judged.
struct Who {
  uint32_t pid = 0;
  uint32_t root = 0;         // agent root pid
  std::string_view session;  // agent id of this run
  std::string_view name;     // agent name (policy name or display name)
};

struct LlmFact {
  uint64_t ts_ns = 0;
  Who who;
  const llm::LlmCall* call = nullptr;
  const LlmContent* content = nullptr;  // null: bodies not available (WebSocket)
};

struct ConnectFact {
  uint64_t ts_ns = 0;
  Who who;
  std::string_view address;   // numeric
  std::string_view hostname;  // learned from DNS/SNI; empty when unknown
  uint16_t port = 0;
  int32_t result = 0;  // 0 or -errno (the outcome for non-blocking connects)
};

// A TLS connection of a process whose TLS library is hooked that never carried plaintext:
// its handshake failed (a certificate name mismatch, an unknown CA) or it was abandoned
// before any request. The pipeline's TLS watch reports it.
struct TlsFailureFact {
  uint64_t ts_ns = 0;
  Who who;
  std::string_view sni;      // empty when the ClientHello had none
  std::string_view address;  // numeric
  uint16_t port = 0;
};

struct DnsFact {
  uint64_t ts_ns = 0;
  Who who;
  std::string_view name;
  uint32_t rcode = 0;  // 3: NXDOMAIN
};

struct HttpFact {
  uint64_t ts_ns = 0;
  Who who;
  std::string_view host, target;
  int status = 0;
};

struct ExecFact {
  uint64_t ts_ns = 0;
  Who who;
  std::string_view exe;
  const std::vector<std::string>* args = nullptr;
};

struct ExitFact {
  uint64_t ts_ns = 0;
  Who who;
  int exit_code = 0;  // -1: killed by a signal
};

struct FileFact {
  uint64_t ts_ns = 0;
  Who who;
  std::string_view path;  // absolute, or skipped
  std::string_view op;
};

struct Detection {
  std::string kind;  // retry_spiral, hallucinated_endpoint, scope_drift, cost_anomaly, prompt_drift
  uint64_t ts_ns = 0;
  uint32_t pid = 0, root = 0;
  std::string summary;   // one line for humans
  std::string evidence;  // one rendered JSON object
  double cost_usd = 0;   // what the evidence cost (wasted spend, the anomalous spend)
  int64_t tokens = 0;
  policy::DetectionAction action = policy::DetectionAction::kAlert;
};

}  // namespace rein::detect
