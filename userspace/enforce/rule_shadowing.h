// Rules that can never fire: every connection or file operation they match is matched by a
// rule that wins over them (more severe, or as severe and listed first) with a scope that
// includes theirs. `rein policy check` prints these as warnings. Conservative: a rule is
// reported only when that is certain from the kernel's semantics (rule_eval.h); rules with
// host names or globs decided in user space are never reported.
#pragma once
#include <string>
#include <vector>

#include "policy/policy.h"

namespace rein::enforce {

// "FILE:LINE:COL: rules[i]: warning: never fires: ..." for each such rule, in rule order.
std::vector<std::string> unreachable_rules(const policy::Policy& p);

}  // namespace rein::enforce
