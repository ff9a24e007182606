// Reads one /proc/<pid> directory into a ProcessInfo. The parsers are separate functions so
// hostile contents (a process picks its own comm and argv) can be tested without a real /proc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "process/process_info.h"
#include "process/proc_source.h"

namespace rein::process {

// A process controls its own argv; a /proc seed must not let one process pin megabytes.
inline constexpr size_t kMaxCmdlineBytes = 64 * 1024;
// stat/status/cgroup are small; anything longer is malformed or hostile and is cut here.
inline constexpr size_t kMaxSmallProcFileBytes = 16 * 1024;
// TASK_COMM_LEN - 1: the kernel never reports a longer comm, so a longer one is not real.
inline constexpr size_t kMaxCommBytes = 15;

struct ProcStat {
  std::string comm;
  char state = '?';
  uint32_t ppid = 0;
  uint64_t start_ticks = 0;  // field 22, clock ticks since boot
};

// "pid (comm) state ppid ...": comm may hold spaces and ')' so the fields are located from
// the LAST ')'.
std::optional<ProcStat> parse_proc_stat(std::string_view text);
// The real uid: the first number on the "Uid:" line.
std::optional<uint32_t> parse_status_real_uid(std::string_view text);
// NUL-separated argv; a missing final NUL (truncated read, or a rewritten title) still
// yields the last argument.
std::vector<std::string> split_cmdline(std::string_view raw);
// The path on the cgroup v2 ("0::") line of /proc/<pid>/cgroup.
std::optional<std::string> parse_cgroup_v2_path(std::string_view text);
// Saturates instead of wrapping so a corrupt starttime cannot become a small, plausible one.
uint64_t clock_ticks_to_ns(uint64_t ticks, long ticks_per_sec);
// readlink of /proc/<pid>/exe appends " (deleted)" when the binary was unlinked.
std::string strip_deleted_suffix(std::string path);

// Reads at most max bytes; *truncated (if given) tells whether more was there.
std::optional<std::string> read_file_bounded(const std::string& path, size_t max,
                                             bool* truncated = nullptr);
// readlink into a PATH_MAX buffer; nullopt when unreadable (permissions, kernel threads).
std::optional<std::string> read_link_bounded(const std::string& path);

struct ProcRecord {
  ProcessInfo info;         // from_proc set; exited set for zombies
  std::string cgroup_path;  // empty when unknown; the caller maps it to an id
  bool cmdline_truncated = false;
};

// nullopt when stat cannot be read or parsed: the process vanished or is not a process.
// ticks_per_sec <= 0 means sysconf(_SC_CLK_TCK).
std::optional<ProcRecord> read_proc_pid(const std::string& proc_root, uint32_t pid,
                                        long ticks_per_sec = 0);
std::optional<ProcRecord> read_proc_pid(const ProcSource& src, uint32_t pid,
                                        long ticks_per_sec = 0);

}  // namespace rein::process
