// Process table: what user space knows about every process the kernel reported (fork, exec,
// exit) plus a /proc seed of what existed before we started. Every event is enriched from
// here, so lookups are O(1) and the table is bounded: a host can fork faster than we drain.
// Not thread-safe: owned by the single pipeline thread that applies kernel events in order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "process/process_info.h"
#include "process/proc_source.h"

namespace rein::process {

// Maps a cgroup v2 path from /proc/<pid>/cgroup ("/a/b") to its id; CgroupResolver::id_for_path
// fits. Kept as a callback so the table does not need to know where cgroup2 is mounted.
using CgroupPathToId = std::function<std::optional<uint64_t>(std::string_view)>;

class ProcessTable {
 public:
  explicit ProcessTable(size_t max_entries = 65536, uint64_t exited_grace_ns = 5'000'000'000);

  // Events arrive in kernel order. Each returns the entry, valid until the next call that
  // inserts (eviction) or gc().
  // Child inherits exe/args/cwd/cgroup/uid of the parent if the parent is known and live.
  // A fork for a pid still marked live means its exit was missed: replaced and counted.
  ProcessInfo& on_fork(uint32_t pid, uint32_t ppid, std::string_view comm, uint64_t ts_ns,
                       uint32_t agent_root, uint64_t agent_start_ns);
  // Exec keeps pid, recorded ppid and start_ns; replaces comm/exe/args/cwd/uid/cgroup and
  // the agent fields. An exec for an exited or unknown pid starts a fresh entry.
  ProcessInfo& on_exec(uint32_t pid, uint32_t ppid, uint32_t uid, std::string_view comm,
                       std::string exe, std::vector<std::string> args, std::string cwd,
                       uint64_t cgroup_id, uint64_t ts_ns, uint32_t agent_root,
                       uint64_t agent_start_ns);
  // Marks exited; the entry stays for the grace period so late records still enrich.
  // Unknown pids and repeated exits are ignored.
  void on_exit(uint32_t pid, int32_t status, uint64_t ts_ns);

  const ProcessInfo* find(uint32_t pid) const;
  // pid, parent, grandparent... (known entries only; empty if pid is unknown). Stops at an
  // unknown parent, a cycle, max_depth, or a parent entry that started after its child
  // (the parent pid was reused by an unrelated process).
  std::vector<uint32_t> ancestry(uint32_t pid, size_t max_depth = 64) const;
  // Live descendants (not pid itself), breadth first. Walks through exited intermediates
  // because orphans keep their recorded ppid. O(table size).
  std::vector<uint32_t> descendants(uint32_t pid) const;
  // Drops exited entries whose exit is more than the grace period before now_ns.
  size_t gc(uint64_t now_ns);

  // Seeds from a proc filesystem root. Live entries created from kernel events are fresher
  // than /proc and are kept; earlier /proc-seeded entries are refreshed, and those whose pid
  // vanished are marked exited (their exit is never reported for untracked processes).
  // cgroup_id stays 0 unless cgroup_id_of is given. Returns the number of entries seeded.
  // now_ns: the boot time exits found here are dated (0: now; replay passes the live one).
  size_t seed_from_proc(const std::string& proc_root = "/proc",
                        const CgroupPathToId& cgroup_id_of = {}, uint64_t now_ns = 0);
  size_t seed_from_proc(const ProcSource& src, const CgroupPathToId& cgroup_id_of = {},
                        uint64_t now_ns = 0);

  size_t size() const { return entries_.size(); }
  size_t max_entries() const { return max_entries_; }
  uint64_t evictions() const { return evictions_; }
  // Reads one process from /proc into the table (a process first seen through a later
  // event, e.g. discovered by its LLM traffic). False when it is gone.
  bool seed_one(uint32_t pid, const std::string& proc_root = "/proc",
                const CgroupPathToId& cgroup_id_of = {});
  // Every pid in the table (live and exited-in-grace), for start-up selection.
  std::vector<uint32_t> pids() const;
  // Marks an existing entry as a member of an agent (adopted at start-up). False if unknown.
  bool set_agent(uint32_t pid, uint32_t agent_root, uint64_t agent_start_ns);
  // Live entries replaced by a fork/exec for the same pid after a missed exit.
  uint64_t missed_exits() const { return missed_exits_; }

 private:
  // Eviction order: exited (oldest exit first), then live untracked, live tracked members,
  // and live agent roots last; within a tier the oldest start goes first.
  enum Tier : uint8_t { kExited = 0, kUntracked = 1, kTracked = 2, kAgentRoot = 3 };
  using EvictKey = std::tuple<uint8_t, uint64_t, uint64_t, uint32_t>;  // tier, time, seq, pid
  struct Node {
    ProcessInfo info;
    EvictKey key;
  };

  // may_drop: when full, refuse an entry that would itself be the next to evict (the
  // dropped entry counts as an eviction). nullptr when refused.
  ProcessInfo* insert_fresh(ProcessInfo info, bool may_drop = false);
  static EvictKey key_for(const ProcessInfo& p, uint64_t seq);
  void reindex(Node& n);
  void evict_one();
  void erase(std::unordered_map<uint32_t, Node>::iterator it);
  void mark_exited(Node& n, int32_t status, uint64_t ts_ns);
  // True when `parent` may really be the parent of `child` (not a later reuse of its pid).
  static bool plausible_parent(const ProcessInfo& parent, const ProcessInfo& child);

  size_t max_entries_;
  uint64_t grace_ns_;
  uint64_t seq_ = 0;
  uint64_t evictions_ = 0;
  uint64_t missed_exits_ = 0;
  std::unordered_map<uint32_t, Node> entries_;
  std::set<EvictKey> order_;
};

}  // namespace rein::process
