// Secrets and PII sent to a model: the request body of each LLM call goes through the
// Hyperscan scanner (secret_scanner.h) and every distinct finding becomes part of one
// detect.secret_in_prompt event: type, count, where (JSON path, message index) and a keyed
// fingerprint, never the value. A value is reported once per agent session (a conversation
// resends it with every call).
#pragma once
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/string_map.h"
#include "detect/detector_util.h"
#include "detect/secret_scanner.h"

namespace rein::detect {

class SecretsInPromptDetector {
 public:
  void configure(const policy::SecretsConfig& c) { cfg_ = c; }
  bool enabled() const { return cfg_.enabled; }
  void on_llm(const LlmFact& f, std::vector<Detection>& out);
  void on_session_end(std::string_view session) { seen_.erase(std::string(session)); }
  size_t tracked() const;
  size_t state_bytes() const;  // estimate (detect/state_bytes.h)

 private:
  struct Seen {
    std::set<std::string> fingerprints;
    uint64_t last = 0;
  };
  policy::SecretsConfig cfg_;
  StringMap<Seen> seen_;
};

}  // namespace rein::detect
