// The policy's meaning for connects and file operations, straight from docs/policy.md with no
// kernel structures: every matching rule and every allow scope that does not cover the event
// is a candidate; the most severe wins (deny > pause > audit), ties go to the rule listed
// first (rules before allow scopes). The policy fuzzer checks the kernel maps against it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"

namespace rein::enforce {

struct ReferenceVerdict {
  std::optional<policy::Action> action;  // nullopt: nothing applies
  uint32_t rule = 0;                     // rules first, then allow scopes
};

// names: the host names the address was learned from (DNS answers), empty when none.
ReferenceVerdict reference_connect(const policy::Policy& p, const policy::AgentRef& who,
                                   const policy::IpAddress& addr, uint16_t port,
                                   const std::vector<std::string>& names);
ReferenceVerdict reference_file(const policy::Policy& p, const policy::AgentRef& who,
                                std::string_view path, policy::FileOp op);

}  // namespace rein::enforce
