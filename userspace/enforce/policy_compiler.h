// Compiles a validated policy into what the kernel decides on its own (path prefixes,
// basenames, executables, CIDRs with ports, allow-list catch-alls) and reports what is left
// for user space: globs that are not a plain prefix or basename, argv patterns, host names
// (compiled later, from the DNS answers agents get), LLM rules and budgets.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "policy/policy.h"
#include "rein/abi/events.h"
#include "rein/abi/rule_eval.h"

namespace rein::enforce {

struct KernelPolicy {
  std::vector<std::pair<std::string, rein_rule>> file_prefixes;  // path prefix (or exact path)
  std::vector<std::pair<uint64_t, rein_rule>> file_basenames;    // FNV-1a 64 of a basename
  std::vector<std::pair<uint64_t, rein_rule>> execs;             // FNV-1a 64 of a path or basename
  std::vector<std::pair<rein_net_key, rein_rule>> networks;      // v4-mapped CIDRs
  std::vector<std::pair<uint64_t, rein_rule>> hosts;             // FNV-1a 64 of an exact host name
  // Rules (by index) with parts only user space can decide, and why: shown at start.
  std::vector<std::string> user_space_notes;

  // What the kernel maps hold, built from the entries above (include/rein/abi/rule_eval.h):
  // each trie leaf carries every entry whose prefix covers it; hash keys carry every entry
  // with that key.
  std::vector<std::pair<std::string, rein_rule_set>> file_prefix_sets;  // policy_fpath
  std::vector<std::pair<uint64_t, rein_rule_set>> file_basename_sets;   // policy_fbase
  std::vector<std::pair<uint64_t, rein_rule_set>> exec_sets;            // policy_exec
  std::vector<std::pair<rein_net_key, rein_rule_set>> network_sets;     // policy_net
  std::vector<std::pair<uint64_t, rein_rule_set>> host_sets;            // policy_hosts
};

// Rule numbering shared by kernel and user space: rules first, then allow scopes.
inline uint32_t allow_rule_index(const policy::Policy& p, size_t allow_index) {
  return static_cast<uint32_t>(p.rules.size() + allow_index);
}

// Allow-list id (rein_rule.list) of allow scope i: 1 + the number of earlier allow scopes of
// the same kind. Catch-alls cover every address or path, so the kernel holds at most
// REIN_RULESET_MAX lists per kind and ids stay small.
uint16_t allow_list_id(const policy::Policy& p, size_t allow_index);

// Scope bits: bit i = policy.agents[i]; REIN_CLASS_CLI and REIN_CLASS_DISCOVERED as in the ABI.
uint64_t scope_mask(const policy::Policy& p, const policy::Scope& s);

Result<KernelPolicy> compile_policy(const policy::Policy& p);

// A v4-mapped 16-byte address, the form the kernel keys networks by.
std::array<uint8_t, 16> mapped_address(const policy::IpAddress& a);

}  // namespace rein::enforce
