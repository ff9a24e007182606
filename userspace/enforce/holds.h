// Processes stopped (SIGSTOP) by a `pause` rule, waiting for a human: `rein approve ID`
// resumes, `rein deny ID` kills, and the policy's default applies at the timeout.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rein::enforce {

struct Hold {
  uint64_t id = 0;
  uint32_t pid = 0;
  uint32_t agent_root = 0;
  std::string agent_id;
  std::string rule;
  std::string kind;  // file, exec, llm
  std::string what;  // the path, executable or model that matched
  uint64_t since_ns = 0;
  uint64_t deadline_ns = 0;
  uint64_t start_ticks = 0;  // the process's start (/proc/PID/stat field 22): for restarts
  bool seized = false;       // ptrace-stopped by rein: SIGCONT from others cannot resume it
};

// A process the kernel stopped for a pause rule (map "held", bpf/holds.bpf.h).
struct KernelHold {
  uint32_t pid = 0;
  uint32_t rule = 0;  // 0xffffffff: not known
  uint64_t since_ns = 0;
  uint32_t state = 0;  // rein_held_state
};

class HoldRegistry {
 public:
  explicit HoldRegistry(size_t max_holds = 1024) : max_(max_holds) {}
  // Returns the new hold's id, or nullopt when the registry is full (the caller then applies
  // the default at once rather than leaving a process stopped with no way to resume it).
  std::optional<uint64_t> add(Hold h);
  std::optional<Hold> take(uint64_t id);
  // Holds whose deadline passed, removed from the registry.
  std::vector<Hold> expire(uint64_t now_ns);
  // Holds of a process that exited (killed by someone else): removed.
  std::vector<Hold> forget_pid(uint32_t pid);
  std::vector<Hold> list() const;
  std::optional<Hold> find_pid(uint32_t pid) const;
  size_t size() const { return holds_.size(); }

 private:
  size_t max_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Hold> holds_;
};

// Kernel holds with no hold in `holds`: their pause record was lost (ring full) or has not
// been read yet, so only those older than grace_ns are returned. Each needs a hold (or its
// policy default): a process must never stay stopped with nobody to resume it.
std::vector<KernelHold> unclaimed_kernel_holds(const std::vector<KernelHold>& kernel,
                                               const HoldRegistry& holds, uint64_t now_ns,
                                               uint64_t grace_ns);

}  // namespace rein::enforce
