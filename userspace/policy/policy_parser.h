// Policy file parsing with strict validation (docs/policy.md). Every problem becomes a
// Diagnostic "FILE:LINE:COL: FIELD: REASON"; all of them are collected, not just the first.
// Nothing here throws: yaml-cpp and std::regex errors are caught and reported.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/diagnostic.h"
#include "policy/policy.h"

namespace rein::policy {

inline constexpr size_t kMaxPolicyBytes = 1 << 20;
inline constexpr size_t kMaxRules = 10000;      // also the limit for allow scopes
inline constexpr size_t kMaxAgents = 1000;
inline constexpr size_t kMaxBudgets = 1000;
inline constexpr size_t kMaxDnsResolvers = 16;  // the kernel map holds 64 with resolv.conf's
inline constexpr size_t kMaxListItems = 4096;   // any list inside one entry
// argv/cmdline regexes in the whole policy: each is compiled at load and run on every exec
// of a selected process.
inline constexpr size_t kMaxRegexes = 256;

// The error message is every diagnostic, one per line.
Result<Policy> parse_policy(std::string_view yaml_text, std::string_view file_name);

// Reads at most kMaxPolicyBytes + 1 bytes; open/read problems are diagnostics on the file.
Result<Policy> load_policy_file(const std::string& path);
// A policy file's text: a regular file of at most 1 MiB, else a FILE:1:1 diagnostic.
Result<std::string> read_policy_text(const std::string& path);

// Empty when the policy is valid.
std::vector<Diagnostic> check_policy(std::string_view yaml_text, std::string_view file_name);

}  // namespace rein::policy
