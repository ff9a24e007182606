// The typed policy: what a validated policy file says (docs/policy.md is the reference).
// Everything here was checked by the parser; consumers need not re-validate.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "policy/cidr.h"
#include "policy/config_files.h"
#include "policy/detections.h"
#include "policy/glob.h"
#include "policy/host_pattern.h"
#include "policy/regex.h"

namespace rein::policy {

inline constexpr std::string_view kApiVersion = "rein/v1";
// Scope entry naming every agent found by auto-discovery rather than by a selector.
inline constexpr std::string_view kAutodiscovered = "autodiscovered";

// Where an item starts in its file, 1-based; 0 when it did not come from a file.
struct SourceLoc {
  uint32_t line = 0;
  uint32_t column = 0;
};

enum class Action : uint8_t { kAudit, kDeny, kPause };
std::string_view action_name(Action a);

enum class FileOp : uint8_t {
  kCreate, kWrite, kTruncate, kRename, kUnlink, kChmod, kChown, kMkdir, kRmdir, kLink, kSymlink,
  kXattr,  // setxattr/removexattr family
};
inline constexpr unsigned kFileOpCount = 12;
using FileOpMask = uint16_t;
constexpr FileOpMask file_op_bit(FileOp op) { return static_cast<FileOpMask>(1u << static_cast<unsigned>(op)); }
inline constexpr FileOpMask kAllFileOps = static_cast<FileOpMask>((1u << kFileOpCount) - 1);
// Names as in file.mutation events: "create", "write", ...
std::string_view file_op_name(FileOp op);
std::optional<FileOp> file_op_from_name(std::string_view name);

// Provider names a policy may use (OTel GenAI names, as llm.call events carry them).
const std::vector<std::string_view>& known_llm_providers();

// Who an event belongs to, for scopes and budgets.
struct AgentRef {
  std::string_view session_id;  // agent id of this run (one per root process)
  std::string_view name;        // the policy agent name, or the display name if discovered
  bool autodiscovered = false;
};

struct Agent {
  std::string name;
  std::vector<std::string> exe;      // basenames (no '/') or absolute paths
  std::vector<Regex> cmdline;        // searched in the space-joined argv
  std::vector<std::string> cgroup;   // cgroup v2 paths, '/'-rooted; a process in that cgroup or below
  std::vector<uint32_t> pid;
  SourceLoc loc;
};

struct Scope {
  std::vector<std::string> agents;  // defined agent names
  bool autodiscovered = false;      // the list named "autodiscovered"
  bool every_agent() const { return agents.empty() && !autodiscovered; }
  bool applies_to(const AgentRef& a) const;
};

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  bool contains(uint16_t port) const { return port >= first && port <= last; }
};

struct FileMatch {
  std::vector<Glob> paths;
  FileOpMask ops = kAllFileOps;
  // For rename and link, callers test both the old and the new path.
  bool matches(std::string_view path, FileOp op) const;
};

struct NetworkMatch {
  std::vector<Cidr> cidrs;
  std::vector<PortRange> ports;
  std::vector<HostPattern> hosts;
  // The destination is in any CIDR or its host name (empty when unknown) matches any host
  // pattern, or neither list is given; and its port is in a range, or no ports are given.
  bool matches(const IpAddress& addr, uint16_t port, std::string_view hostname) const;
};

struct ExecMatch {
  std::vector<std::string> paths;  // absolute: the exact exe; otherwise its basename
  std::vector<Regex> argv;
  bool fileless = false;  // the program has no name on disk (memfd, O_TMPFILE, deleted)
  // Every given condition must match. nullopt: an argv regex could not be evaluated.
  std::optional<bool> matches(std::string_view exe, std::string_view joined_argv,
                              bool exe_fileless = false) const;
};

struct LlmMatch {
  std::vector<std::string> providers;
  std::vector<Glob> models;  // name globs, case-insensitive
  std::vector<HostPattern> hosts;
  // Every given list must match; an unknown (empty) model or host matches no pattern.
  bool matches(std::string_view provider, std::string_view model, std::string_view host) const;
};

enum class MatchKind : uint8_t { kFile, kNetwork, kExec, kLlm };  // order of Match
using Match = std::variant<FileMatch, NetworkMatch, ExecMatch, LlmMatch>;
std::string_view match_kind_name(MatchKind k);

struct Rule {
  std::string name;
  Scope scope;
  Action action = Action::kAudit;
  Match match;
  SourceLoc loc;
  MatchKind kind() const { return static_cast<MatchKind>(match.index()); }
};

// An allow-list: within its scope, an event of its kind that the match does NOT cover gets
// `otherwise`.
struct AllowScope {
  std::string name;
  Scope scope;
  Action otherwise = Action::kDeny;
  Match match;
  SourceLoc loc;
  MatchKind kind() const { return static_cast<MatchKind>(match.index()); }
};

enum class BudgetPer : uint8_t { kSession, kName };
enum class BudgetAction : uint8_t { kAlert, kBlockLlm, kPause, kKill };
std::string_view budget_action_name(BudgetAction a);

struct Budget {
  std::string name;
  Scope scope;
  BudgetPer per = BudgetPer::kSession;
  std::chrono::seconds window{0};
  std::optional<double> usd;       // > 0 when set
  std::optional<uint64_t> tokens;  // > 0 when set; input + output + cache tokens
  double warn_at = 0.8;            // (0, 1]
  BudgetAction action = BudgetAction::kAlert;
  SourceLoc loc;
};

enum class HoldDefault : uint8_t { kDeny, kAllow };

struct Holds {
  std::chrono::seconds timeout{300};
  HoldDefault on_timeout = HoldDefault::kDeny;
};

struct Policy {
  std::string file;  // as named to the parser
  std::vector<Agent> agents;
  bool autodiscover = true;
  std::vector<Rule> rules;
  std::vector<AllowScope> allow;
  std::vector<Budget> budgets;
  Holds holds;
  // dns.resolvers: answers from these teach host-name rules, besides the host's
  // /etc/resolv.conf nameservers (bpf/dns_trust.bpf.h).
  std::vector<IpAddress> dns_resolvers;
  DetectionsConfig detections;  // docs/detections.md
  ConfigFilesConfig config_files;  // config.mutation classes

  const Agent* find_agent(std::string_view name) const;
};

}  // namespace rein::policy
