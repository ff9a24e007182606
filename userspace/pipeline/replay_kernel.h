// `rein replay --policy`: what the kernel's hooks would have decided under that policy.
// Live, the BPF programs judge connects, file operations and execs of tracked processes
// and put their verdict in the record (or send a REIN_REC_POLICY_NET record for a connect).
// In replay those verdicts named the captured policy's rules, so they are cleared; this
// puts back the verdicts the new policy would have produced, computed with
// enforce::KernelModel (the same rule_eval.h code the BPF programs run, over the same
// compiled maps) and each process's scope bit (its agent's selector class), so the
// pipeline reports them exactly as it reports the kernel's. Nothing is acted on.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"
#include "enforce/kernel_model.h"
#include "enforce/policy_compiler.h"
#include "policy/policy.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

class ReplayKernel {
 public:
  // selector_classes: the agent class of each selector, by index (the capture's selectors).
  static Result<std::unique_ptr<ReplayKernel>> build(const policy::Policy& p,
                                                     std::vector<uint32_t> selector_classes);

  // An agent root was tracked under selector `sel` (0xffffffff: auto-discovered). Roots
  // come from exec records (REIN_F_NEW_AGENT) and from user space's track calls.
  void on_track(uint32_t root, uint32_t sel);
  // A ring record, verdict fields already cleared: a FILE, FILE_OPEN or EXEC record gets the
  // verdict the kernel would have written into it; for a CONNECT record, the POLICY_NET
  // record the kernel would have sent before it is returned (to be fed first).
  std::optional<std::string> judge(std::string& bytes);

  // What user space would have taught the kernel (enforce::Actuator): addresses behind host
  // names, LLM endpoints, agents blocked by a budget.
  void add_network_entry(const rein_net_key& key, const rein_rule& rule);
  void add_llm_endpoint(const std::array<uint8_t, 16>& addr, uint16_t port);
  void block_llm(uint32_t agent_root, uint32_t budget_plus1);

 private:
  ReplayKernel(enforce::KernelPolicy k, std::vector<uint32_t> classes,
               std::array<rein_rule, 64> file_scope, std::array<rein_rule, 64> net_scope);
  uint64_t scope_of(uint32_t agent_root) const;
  std::optional<std::string> judge_connect(const std::string& bytes);
  struct ExecVerdict {
    uint32_t rule = 0;
    uint8_t action = 0;
  };
  ExecVerdict exec_verdict(std::string_view path, uint32_t root, bool fileless = false) const;
  void judge_exec(std::string& bytes);
  void judge_exec_map(std::string& bytes);
  void judge_scope_ban(std::string& bytes);

  enforce::KernelPolicy compiled_;
  enforce::KernelModel model_;
  std::vector<uint32_t> classes_;
  // Per class, the rule under which io_uring (file) and raw sockets (network) are banned.
  std::array<rein_rule, 64> file_scope_{};
  std::array<rein_rule, 64> net_scope_{};
  std::unordered_map<uint32_t, uint32_t> root_selector_;
  std::set<std::pair<std::array<uint8_t, 16>, uint16_t>> endpoints_;
  std::unordered_map<uint32_t, uint32_t> blocked_;  // agent root -> budget + 1
};

}  // namespace rein::pipeline
