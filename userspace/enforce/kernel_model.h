// What the kernel's policy maps decide, computed in user space from the compiler's output:
// a longest-prefix lookup over the same keys and the same evaluation code the BPF programs
// run (include/rein/abi/rule_eval.h). Tests and the policy fuzzer compare it with the
// reference evaluator; `rein policy check` could show it too.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "enforce/policy_compiler.h"

namespace rein::enforce {

struct KernelVerdict {
  uint8_t action = REIN_ACT_NONE;  // REIN_ACT_NONE: the kernel lets it through silently
  uint32_t rule = 0;
  bool operator==(const KernelVerdict& o) const {
    return action == o.action && (action == REIN_ACT_NONE || rule == o.rule);
  }
};

class KernelModel {
 public:
  explicit KernelModel(const KernelPolicy& k);

  // A connect to a v4-mapped 16-byte address by a process whose scope bit is `scope`.
  KernelVerdict connect(const std::array<uint8_t, 16>& addr, uint16_t port, uint64_t scope) const;
  // A file operation (REIN_OP_*) on an absolute path.
  KernelVerdict file(std::string_view path, uint32_t op, uint64_t scope) const;
  // An address learned for a host rule, merged like BpfSensor::add_network_entry and the
  // kernel's DNS learning. Returns rein_set_add's result.
  int learn(const std::array<uint8_t, 16>& addr, const rein_rule& rule);

 private:
  const rein_rule_set* net_lookup(const std::array<uint8_t, 16>& addr) const;
  std::vector<std::pair<rein_net_key, rein_rule_set>> net_;
  std::vector<std::pair<std::string, rein_rule_set>> fpath_;
  std::vector<std::pair<uint64_t, rein_rule_set>> fbase_;
};

}  // namespace rein::enforce
