// What the sensor knows about one process. Kept apart from the table so the /proc reader can
// fill it without depending on the table's bookkeeping.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rein::process {

struct ProcessInfo {
  uint32_t pid = 0, ppid = 0, uid = 0;
  std::string comm, exe, cwd;
  std::vector<std::string> args;
  uint64_t cgroup_id = 0;
  uint64_t start_ns = 0;    // CLOCK_BOOTTIME ns of fork or first sighting
  uint32_t agent_root = 0;  // 0 = not tracked
  uint64_t agent_start_ns = 0;
  bool exited = false;
  uint64_t exit_ns = 0;
  int32_t exit_status = -1;
  bool from_proc = false;  // seeded from /proc
};

}  // namespace rein::process
