// Agent selectors (--agent-exe, --agent-cmdline, --agent-cgroup, --agent-pid). Exe and
// cgroup selectors are compiled into kernel maps and decided at exec; argv patterns are
// matched here (see docs/architecture.md for the window that leaves).
#pragma once
#include <cstdint>
#include <optional>
#include "policy/regex.h"
#include <string>
#include <vector>

#include "common/fnv1a.h"
#include "common/join_args.h"
#include "common/result.h"

namespace rein::pipeline {

// Script: what an interpreter runs, by the script's basename or its npm package
// ("@google/gemini-cli" for `node .../node_modules/@google/gemini-cli/bundle/gemini.js`);
// matched in the kernel at exec like Exe.
enum class SelectorKind { Exe, Cmdline, Cgroup, Pid, Script };

struct Selector {
  SelectorKind kind;
  std::string value;  // as the user wrote it
  std::string name;   // agent name for processes it selects
  uint32_t agent_class = 62;  // policy agent index (rule scopes); 62 = chosen on the command line
};

// FNV-1a 64, the same function the kernel uses for exe selectors (common/fnv1a.h).
using ::rein::fnv1a64;

class SelectorSet {
 public:
  // Validates every selector: a bad regex or pid is an error naming the flag and value.
  static Result<SelectorSet> build(std::vector<Selector> selectors);

  const std::vector<Selector>& items() const { return items_; }
  bool has_cmdline() const { return !regexes_.empty(); }
  bool has_script() const;
  // Index of the first argv selector matching the joined argv, if any.
  std::optional<uint32_t> match_cmdline(const std::vector<std::string>& args) const;
  // For processes found in /proc at start-up: exe path, argv, cgroup path, pid.
  std::optional<uint32_t> match_existing(uint32_t pid, const std::string& exe,
                                         const std::vector<std::string>& args,
                                         const std::string& cgroup) const;
  // Kernel keys for exe selectors: hashes of the value (and of its real path).
  std::vector<std::pair<uint64_t, uint32_t>> exe_hashes() const;

 private:
  std::vector<Selector> items_;
  std::vector<std::pair<uint32_t, policy::Regex>> regexes_;
};

// The script argument of an interpreter's argv (the first of argv[1..3] not starting with
// '-'), its basename and its npm package (after the last "node_modules/"); empty if none.
struct ScriptArg {
  std::string basename, package;
};
ScriptArg script_arg(const std::vector<std::string>& args);

// argv joined with spaces, bounded (common/join_args.h).
using ::rein::join_args;

}  // namespace rein::pipeline
