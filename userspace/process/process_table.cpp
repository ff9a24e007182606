#include "process/process_table.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <limits>
#include <unordered_set>

#include "process/proc_reader.h"

namespace rein::process {
namespace {

// /proc starttime has clock-tick resolution (10 ms at USER_HZ=100) while kernel events carry
// exact ns, so a seeded child can look slightly older than an event-created parent. Real pid
// reuse takes far longer than this to cycle through pid_max.
constexpr uint64_t kStartSlackNs = 20'000'000;

uint64_t boottime_now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}


}  // namespace

ProcessTable::ProcessTable(size_t max_entries, uint64_t exited_grace_ns)
    : max_entries_(std::max<size_t>(max_entries, 1)), grace_ns_(exited_grace_ns) {
  entries_.reserve(std::min<size_t>(max_entries_, 4096));
}

bool ProcessTable::plausible_parent(const ProcessInfo& parent, const ProcessInfo& child) {
  uint64_t limit = child.start_ns > std::numeric_limits<uint64_t>::max() - kStartSlackNs
                       ? std::numeric_limits<uint64_t>::max()
                       : child.start_ns + kStartSlackNs;
  return parent.start_ns <= limit;
}

ProcessTable::EvictKey ProcessTable::key_for(const ProcessInfo& p, uint64_t seq) {
  uint8_t tier;
  uint64_t when = p.start_ns;
  if (p.exited) {
    tier = kExited;
    when = p.exit_ns;
  } else if (p.agent_root == 0) {
    tier = kUntracked;
  } else if (p.agent_root != p.pid) {
    tier = kTracked;
  } else {
    tier = kAgentRoot;
  }
  return EvictKey{tier, when, seq, p.pid};
}

void ProcessTable::reindex(Node& n) {
  if (std::get<2>(n.key) != 0) order_.erase(n.key);
  n.key = key_for(n.info, ++seq_);
  order_.insert(n.key);
}

void ProcessTable::erase(std::unordered_map<uint32_t, Node>::iterator it) {
  order_.erase(it->second.key);
  entries_.erase(it);
}

void ProcessTable::evict_one() {
  if (order_.empty()) return;
  auto it = entries_.find(std::get<3>(*order_.begin()));
  if (it == entries_.end()) {  // cannot happen while the two containers agree
    order_.erase(order_.begin());
    return;
  }
  erase(it);
  ++evictions_;
}

ProcessInfo* ProcessTable::insert_fresh(ProcessInfo info, bool may_drop) {
  auto it = entries_.find(info.pid);
  if (it != entries_.end()) {
    it->second.info = std::move(info);
  } else {
    if (entries_.size() >= max_entries_) {
      // Seeding reads /proc in directory order: without this, a full table would keep
      // whichever processes happened to be listed last rather than the youngest.
      if (may_drop && !order_.empty() && key_for(info, 0) < *order_.begin()) {
        ++evictions_;
        return nullptr;
      }
      evict_one();
    }
    const uint32_t pid = info.pid;
    it = entries_.emplace(pid, Node{std::move(info), EvictKey{}}).first;
  }
  reindex(it->second);
  return &it->second.info;
}

void ProcessTable::mark_exited(Node& n, int32_t status, uint64_t ts_ns) {
  n.info.exited = true;
  n.info.exit_ns = ts_ns;
  n.info.exit_status = status;
  reindex(n);
}

ProcessInfo& ProcessTable::on_fork(uint32_t pid, uint32_t ppid, std::string_view comm,
                                   uint64_t ts_ns, uint32_t agent_root, uint64_t agent_start_ns) {
  ProcessInfo info;
  info.pid = pid;
  info.ppid = ppid;
  info.comm = std::string(comm);
  info.start_ns = ts_ns;
  info.agent_root = agent_root;
  info.agent_start_ns = agent_start_ns;
  // Copied before inserting: making room may evict the parent.
  if (auto pit = entries_.find(ppid);
      pit != entries_.end() && ppid != pid && !pit->second.info.exited) {
    const ProcessInfo& parent = pit->second.info;
    info.uid = parent.uid;
    info.exe = parent.exe;
    info.args = parent.args;
    info.cwd = parent.cwd;
    info.cgroup_id = parent.cgroup_id;
  }
  if (auto it = entries_.find(pid); it != entries_.end() && !it->second.info.exited) {
    ++missed_exits_;
  }
  return *insert_fresh(std::move(info));
}

ProcessInfo& ProcessTable::on_exec(uint32_t pid, uint32_t ppid, uint32_t uid, std::string_view comm,
                                   std::string exe, std::vector<std::string> args, std::string cwd,
                                   uint64_t cgroup_id, uint64_t ts_ns, uint32_t agent_root,
                                   uint64_t agent_start_ns) {
  if (auto it = entries_.find(pid); it != entries_.end() && !it->second.info.exited) {
    Node& n = it->second;
    ProcessInfo& p = n.info;
    // ppid stays as recorded: after reparenting the kernel reports the reaper, but the
    // original parent is what attributes an orphan to its agent.
    p.uid = uid;
    p.comm = std::string(comm);
    p.exe = std::move(exe);
    p.args = std::move(args);
    p.cwd = std::move(cwd);
    p.cgroup_id = cgroup_id;
    p.from_proc = false;  // now described by the kernel, so a re-seed must not overwrite it
    const bool agent_changed = p.agent_root != agent_root;
    p.agent_root = agent_root;
    p.agent_start_ns = agent_start_ns;
    if (agent_changed) reindex(n);  // the eviction tier depends on the agent fields
    return p;
  }
  ProcessInfo info;
  info.pid = pid;
  info.ppid = ppid;
  info.uid = uid;
  info.comm = std::string(comm);
  info.exe = std::move(exe);
  info.args = std::move(args);
  info.cwd = std::move(cwd);
  info.cgroup_id = cgroup_id;
  info.start_ns = ts_ns;  // first sighting: the fork was not reported
  info.agent_root = agent_root;
  info.agent_start_ns = agent_start_ns;
  return *insert_fresh(std::move(info));
}

void ProcessTable::on_exit(uint32_t pid, int32_t status, uint64_t ts_ns) {
  auto it = entries_.find(pid);
  if (it == entries_.end() || it->second.info.exited) return;
  mark_exited(it->second, status, ts_ns);
}

const ProcessInfo* ProcessTable::find(uint32_t pid) const {
  auto it = entries_.find(pid);
  return it == entries_.end() ? nullptr : &it->second.info;
}

std::vector<uint32_t> ProcessTable::ancestry(uint32_t pid, size_t max_depth) const {
  std::vector<uint32_t> out;
  std::unordered_set<uint32_t> seen;
  const ProcessInfo* cur = find(pid);
  while (cur != nullptr && out.size() < max_depth) {
    if (!seen.insert(cur->pid).second) break;  // cycle
    out.push_back(cur->pid);
    if (cur->ppid == 0) break;  // pid 0 is the idle task, never a recorded process
    const ProcessInfo* parent = find(cur->ppid);
    if (parent == nullptr || !plausible_parent(*parent, *cur)) break;
    cur = parent;
  }
  return out;
}

std::vector<uint32_t> ProcessTable::descendants(uint32_t pid) const {
  std::unordered_map<uint32_t, std::vector<const ProcessInfo*>> children;
  for (const auto& [child_pid, node] : entries_) {
    if (node.info.ppid != child_pid) children[node.info.ppid].push_back(&node.info);
  }
  std::vector<uint32_t> out;
  std::unordered_set<uint32_t> seen{pid};
  std::deque<uint32_t> queue{pid};
  while (!queue.empty()) {
    const uint32_t cur = queue.front();
    queue.pop_front();
    auto kids = children.find(cur);
    if (kids == children.end()) continue;
    // Deterministic order for callers that act on the list (e.g. signal oldest first).
    std::sort(kids->second.begin(), kids->second.end(),
              [](const ProcessInfo* a, const ProcessInfo* b) {
                return std::tie(a->start_ns, a->pid) < std::tie(b->start_ns, b->pid);
              });
    const ProcessInfo* parent = find(cur);
    for (const ProcessInfo* kid : kids->second) {
      if (parent != nullptr && !plausible_parent(*parent, *kid)) continue;
      if (!seen.insert(kid->pid).second) continue;
      if (!kid->exited) out.push_back(kid->pid);
      queue.push_back(kid->pid);
    }
  }
  return out;
}

size_t ProcessTable::gc(uint64_t now_ns) {
  size_t removed = 0;
  // Exited entries sort first, by exit time: stop at the first one still in its grace.
  while (!order_.empty() && std::get<0>(*order_.begin()) == kExited) {
    const uint64_t exit_ns = std::get<1>(*order_.begin());
    if (now_ns <= exit_ns || now_ns - exit_ns <= grace_ns_) break;
    auto it = entries_.find(std::get<3>(*order_.begin()));
    if (it == entries_.end()) {
      order_.erase(order_.begin());
      continue;
    }
    erase(it);
    ++removed;
  }
  return removed;
}

size_t ProcessTable::seed_from_proc(const std::string& proc_root,
                                    const CgroupPathToId& cgroup_id_of, uint64_t now_ns) {
  return seed_from_proc(ProcDirSource(proc_root), cgroup_id_of, now_ns);
}

size_t ProcessTable::seed_from_proc(const ProcSource& src, const CgroupPathToId& cgroup_id_of,
                                    uint64_t now_ns) {
  bool complete = false;
  std::vector<uint32_t> present = src.pids(&complete);
  if (present.empty() && !complete) return 0;
  const uint64_t now = now_ns ? now_ns : boottime_now_ns();
  const long hz = ::sysconf(_SC_CLK_TCK);
  size_t seeded = 0;
  for (uint32_t pid : present) {
    auto existing = entries_.find(pid);
    if (existing != entries_.end() && !existing->second.info.from_proc &&
        !existing->second.info.exited) {
      continue;  // built from kernel events, which are fresher than /proc
    }
    auto rec = read_proc_pid(src, pid, hz);
    if (!rec) continue;  // vanished while we read
    ProcessInfo& info = rec->info;
    if (existing != entries_.end()) {
      const ProcessInfo& old = existing->second.info;
      // A zombie whose exit we already recorded: keep the real exit status and time.
      if (old.exited && !old.from_proc && info.exited) continue;
      // Same process seeded again: keep agent attribution the pipeline gave it.
      if (old.from_proc && !old.exited && old.start_ns == info.start_ns) {
        info.agent_root = old.agent_root;
        info.agent_start_ns = old.agent_start_ns;
      }
    }
    if (info.exited) info.exit_ns = now;
    if (cgroup_id_of && !rec->cgroup_path.empty()) {
      if (auto id = cgroup_id_of(rec->cgroup_path)) info.cgroup_id = *id;
    }
    if (insert_fresh(std::move(info), /*may_drop=*/true) != nullptr) ++seeded;
  }

  // Untracked processes never report their exit; a full listing is the only way to learn
  // that a seeded process is gone. A partial listing proves nothing.
  if (complete) {
    std::sort(present.begin(), present.end());
    for (auto& [pid, node] : entries_) {
      if (node.info.from_proc && !node.info.exited &&
          !std::binary_search(present.begin(), present.end(), pid)) {
        mark_exited(node, -1, now);
      }
    }
  }
  return seeded;
}

bool ProcessTable::seed_one(uint32_t pid, const std::string& proc_root,
                            const CgroupPathToId& cgroup_id_of) {
  auto rec = read_proc_pid(proc_root, pid);
  if (!rec || rec->info.exited) return false;
  auto& i = rec->info;
  uint64_t cg = 0;
  if (cgroup_id_of && !rec->cgroup_path.empty())
    if (auto id = cgroup_id_of(rec->cgroup_path)) cg = *id;
  auto& e = on_exec(pid, i.ppid, i.uid, i.comm, i.exe, i.args, i.cwd, cg, i.start_ns, 0, 0);
  e.from_proc = true;
  return true;
}

std::vector<uint32_t> ProcessTable::pids() const {
  std::vector<uint32_t> out;
  out.reserve(entries_.size());
  for (const auto& kv : entries_) out.push_back(kv.first);
  return out;
}

bool ProcessTable::set_agent(uint32_t pid, uint32_t agent_root, uint64_t agent_start_ns) {
  auto it = entries_.find(pid);
  if (it == entries_.end()) return false;
  it->second.info.agent_root = agent_root;
  it->second.info.agent_start_ns = agent_start_ns;
  reindex(it->second);  // agent membership changes its eviction priority
  return true;
}

}  // namespace rein::process
