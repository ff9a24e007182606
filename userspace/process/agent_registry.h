// Agents: one per agent session, keyed by (root pid, root start time) because root pids are
// reused. The id is what events and ledgers carry, so it never changes once issued.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace rein::process {

struct Agent {
  std::string id;
  std::string name;
  uint32_t root_pid = 0;
  uint64_t start_ns = 0;
};

class AgentRegistry {
 public:
  static constexpr size_t kDefaultMaxAgents = 16384;
  static constexpr size_t kMaxIdNameChars = 32;
  // Display names come from argv/comm/config; bounded so one agent cannot bloat every event.
  static constexpr size_t kMaxNameBytes = 128;

  explicit AgentRegistry(size_t max_agents = kDefaultMaxAgents);

  // The returned reference stays valid until that agent is forgotten (explicitly or as the
  // oldest when the registry is full). An existing agent keeps its name and id.
  const Agent& get_or_create(uint32_t root_pid, uint64_t start_ns, std::string_view name);
  const Agent* find(uint32_t root_pid, uint64_t start_ns) const;
  // Changes the display name only: the id was already emitted and must stay stable.
  bool set_name(uint32_t root_pid, uint64_t start_ns, std::string_view name);
  void forget(uint32_t root_pid, uint64_t start_ns);
  size_t size() const { return index_.size(); }
  uint64_t evictions() const { return evictions_; }

  // "<name>-<root_pid>-<6 hex>" with name reduced to [A-Za-z0-9._-] (others become '_'),
  // at most 32 chars, "agent" if empty. The hex is a fixed mix of start_ns (and salt, used
  // only to step past a collision), so ids are reproducible across restarts.
  static std::string make_id(std::string_view name, uint32_t root_pid, uint64_t start_ns,
                             uint32_t salt = 0);

 private:
  struct Key {
    uint32_t pid;
    uint64_t start_ns;
    bool operator==(const Key& o) const { return pid == o.pid && start_ns == o.start_ns; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };

  void erase(std::unordered_map<Key, std::list<Agent>::iterator, KeyHash>::iterator it);

  size_t max_agents_;
  uint64_t evictions_ = 0;
  std::list<Agent> agents_;  // creation order, oldest first; list keeps references stable
  std::unordered_map<Key, std::list<Agent>::iterator, KeyHash> index_;
  std::unordered_set<std::string> ids_;  // ids in use, to keep them unique
};

}  // namespace rein::process
