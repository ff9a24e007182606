#include "policy/policy.h"

#include <algorithm>

namespace rein::policy {

namespace {

constexpr std::string_view kFileOpNames[kFileOpCount] = {
    "create", "write", "truncate", "rename", "unlink", "chmod",
    "chown",  "mkdir", "rmdir",    "link",   "symlink", "xattr",
};

std::string_view basename_of(std::string_view p) {
  auto slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

}  // namespace

std::string_view action_name(Action a) {
  switch (a) {
    case Action::kAudit: return "audit";
    case Action::kDeny: return "deny";
    case Action::kPause: return "pause";
  }
  return "?";
}

std::string_view file_op_name(FileOp op) {
  auto i = static_cast<unsigned>(op);
  return i < kFileOpCount ? kFileOpNames[i] : "?";
}

std::optional<FileOp> file_op_from_name(std::string_view name) {
  for (unsigned i = 0; i < kFileOpCount; i++)
    if (kFileOpNames[i] == name) return static_cast<FileOp>(i);
  return std::nullopt;
}

const std::vector<std::string_view>& known_llm_providers() {
  // Keep in step with llm/provider_detect.cpp: a misspelt provider must be an error, not a
  // rule that never fires.
  static const std::vector<std::string_view> kProviders = {
      "openai",     "anthropic",       "gcp.gemini",           "gcp.vertex_ai",
      "aws.bedrock", "azure.ai.openai", "deepseek",             "groq",
      "mistral_ai", "x_ai",            "openrouter",           "together",
      "ollama",     "openai_compatible", "anthropic_compatible", "gemini_compatible",
  };
  return kProviders;
}

std::string_view match_kind_name(MatchKind k) {
  switch (k) {
    case MatchKind::kFile: return "file";
    case MatchKind::kNetwork: return "network";
    case MatchKind::kExec: return "exec";
    case MatchKind::kLlm: return "llm";
  }
  return "?";
}

std::string_view budget_action_name(BudgetAction a) {
  switch (a) {
    case BudgetAction::kAlert: return "alert";
    case BudgetAction::kBlockLlm: return "block-llm";
    case BudgetAction::kPause: return "pause";
    case BudgetAction::kKill: return "kill";
  }
  return "?";
}

bool Scope::applies_to(const AgentRef& a) const {
  if (every_agent()) return true;
  if (a.autodiscovered) return autodiscovered;
  return std::find(agents.begin(), agents.end(), a.name) != agents.end();
}

bool FileMatch::matches(std::string_view path, FileOp op) const {
  if (!(ops & file_op_bit(op))) return false;
  return std::any_of(paths.begin(), paths.end(), [&](const Glob& g) { return g.match(path); });
}

bool NetworkMatch::matches(const IpAddress& addr, uint16_t port, std::string_view hostname) const {
  if (!ports.empty() &&
      std::none_of(ports.begin(), ports.end(), [&](const PortRange& r) { return r.contains(port); }))
    return false;
  if (cidrs.empty() && hosts.empty()) return true;
  if (std::any_of(cidrs.begin(), cidrs.end(), [&](const Cidr& c) { return c.contains(addr); })) return true;
  return !hostname.empty() &&
         std::any_of(hosts.begin(), hosts.end(), [&](const HostPattern& h) { return h.matches(hostname); });
}

std::optional<bool> ExecMatch::matches(std::string_view exe, std::string_view joined_argv,
                                       bool exe_fileless) const {
  if (fileless && !exe_fileless) return false;
  if (!paths.empty()) {
    bool hit = std::any_of(paths.begin(), paths.end(), [&](const std::string& p) {
      return p.front() == '/' ? p == exe : p == basename_of(exe);
    });
    if (!hit) return false;
  }
  if (argv.empty()) return true;
  bool undecided = false;
  for (const auto& re : argv) {
    auto r = re.search(joined_argv);
    if (!r) undecided = true;
    else if (*r) return true;
  }
  if (undecided) return std::nullopt;
  return false;
}

bool LlmMatch::matches(std::string_view provider, std::string_view model, std::string_view host) const {
  if (!providers.empty() && std::find(providers.begin(), providers.end(), provider) == providers.end())
    return false;
  if (!models.empty() &&
      (model.empty() || std::none_of(models.begin(), models.end(), [&](const Glob& g) { return g.match(model); })))
    return false;
  if (!hosts.empty() &&
      (host.empty() ||
       std::none_of(hosts.begin(), hosts.end(), [&](const HostPattern& h) { return h.matches(host); })))
    return false;
  return true;
}

const Agent* Policy::find_agent(std::string_view name) const {
  for (const auto& a : agents)
    if (a.name == name) return &a;
  return nullptr;
}

}  // namespace rein::policy
