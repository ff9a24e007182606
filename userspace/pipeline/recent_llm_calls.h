// The last LLM calls of each agent with the tool calls their responses asked for, so a
// file change can name the model answer that preceded it (config.mutation caused_by).
// Bounded: agents, calls per agent, tool calls per agent, argument bytes (ToolCallLimits).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llm/llm_call.h"

namespace rein::pipeline {

struct RecentCallLimits {
  size_t max_agents = 1024;
  size_t calls_per_agent = 8;
  size_t tool_calls_per_agent = 64;
};

struct RecentCall {
  uint64_t ts_ns = 0;  // response end (boot clock)
  std::string response_id, model, provider;
  std::vector<llm::ToolCall> tool_calls;
};

struct CausedBy {
  const RecentCall* call = nullptr;     // valid until the next add()
  const llm::ToolCall* tool = nullptr;  // a tool call of `call` naming the path, or null
  std::string_view match;               // "exact", "relative", "substring"
  uint32_t calls_back = 0;              // 0: the latest call before the change
};

class RecentLlmCalls {
 public:
  explicit RecentLlmCalls(RecentCallLimits l = {}) : limits_(l) {}
  void add(const std::string& agent_id, uint64_t ts_ns, const llm::LlmCall& call);
  // The latest call of the agent at or before ts_ns; if one of its recent calls had a tool
  // call naming `path` (absolute; `cwd` resolves relative names), that call and tool call
  // instead, newest first. nullopt: no call of this agent before ts_ns.
  std::optional<CausedBy> find(const std::string& agent_id, uint64_t ts_ns, std::string_view path,
                               std::string_view cwd) const;
  void forget(const std::string& agent_id) { agents_.erase(agent_id); }
  size_t agents() const { return agents_.size(); }

 private:
  // An agent's calls in a ring that is filled once and then overwritten in place, oldest
  // first from `head`: every LLM call passes here, and a deque of them allocated a block
  // every few calls while the strings of the call it dropped were freed and new ones made.
  struct Agent {
    std::vector<RecentCall> ring;
    size_t head = 0;
    uint64_t last_ns = 0;
    const RecentCall& oldest(size_t i) const { return ring[(head + i) % ring.size()]; }
    RecentCall& oldest(size_t i) { return ring[(head + i) % ring.size()]; }
  };
  RecentCallLimits limits_;
  std::unordered_map<std::string, Agent> agents_;
};

// Whether a tool call's arguments name `path`, and how ("exact": a string value is the
// path; "relative": a relative value resolved against cwd is; "substring": a value
// contains it, e.g. a shell command). Empty when not.
std::string_view tool_call_names_path(const llm::ToolCall& tc, std::string_view path,
                                      std::string_view cwd);

}  // namespace rein::pipeline
