// Builds the rule sets the kernel maps hold from the compiler's per-rule entries: each trie
// leaf gets every entry whose prefix covers it (so a longest-prefix lookup returns every rule
// that applies), each hash key every entry with that key. See include/rein/abi/rule_eval.h.
#pragma once
#include <functional>
#include <string>

#include "common/result.h"
#include "enforce/policy_compiler.h"

namespace rein::enforce {

// "FILE:LINE:COL: rules[i] 'name'" for the rule an entry came from (error messages).
using RuleLocator = std::function<std::string(uint32_t rule_index)>;

// Fills k.*_sets from k's entry lists. Fails when more than REIN_RULESET_MAX entries cover
// one prefix or share one key, naming a rule that does not fit.
Result<void> build_rule_sets(KernelPolicy& k, const RuleLocator& where);

// The key is in the v4-mapped range with a prefix of at least 96: an IPv4 block.
bool net_key_is_v4(const rein_net_key& key);
// "10.0.0.0/8", "fd00::/8"
std::string net_key_text(const rein_net_key& key);
// `key` cut to its first `len` bits (the rest zeroed), prefixlen = len.
rein_net_key net_key_prefix(const rein_net_key& key, uint32_t len);

}  // namespace rein::enforce
