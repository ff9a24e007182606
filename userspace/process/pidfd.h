// A handle on one process that a reused pid cannot redirect: every signal user space sends
// goes through a pidfd (pidfd_open + pidfd_send_signal), opened as soon as the process is
// known and checked against its start time.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace rein::process {

// What /proc/PID/stat says now: its state letter and its start (field 22, clock ticks since
// boot). nullopt: no such process.
struct ProcState {
  char state = '?';
  uint64_t start_ticks = 0;
};
std::optional<ProcState> proc_state(uint32_t pid, const std::string& proc_root = "/proc");
// 'T' (stopped) or 't' (ptrace-stopped).
inline bool is_stopped_state(char c) {
  return c == 'T' || c == 't';
}

class Pidfd {
 public:
  // The process now at pid must have started at exactly start_ticks.
  static Result<Pidfd> open_exact(uint32_t pid, uint64_t start_ticks);
  // The process now at pid must have started no later than seen_boot_ns (CLOCK_BOOTTIME,
  // e.g. the time of the kernel record that named it): a pid reused later is refused.
  static Result<Pidfd> open_seen(uint32_t pid, uint64_t seen_boot_ns);

  Pidfd(Pidfd&& o) noexcept;
  Pidfd& operator=(Pidfd&& o) noexcept;
  Pidfd(const Pidfd&) = delete;
  Pidfd& operator=(const Pidfd&) = delete;
  ~Pidfd();

  // Fails with ESRCH once the process has exited, whoever has its pid by then.
  Result<void> send(int sig) const;
  // False once it exited (the pidfd polls readable).
  bool alive() const;
  uint32_t pid() const { return pid_; }
  uint64_t start_ticks() const { return start_ticks_; }
  int fd() const { return fd_; }

 private:
  Pidfd(int fd, uint32_t pid, uint64_t start) : fd_(fd), pid_(pid), start_ticks_(start) {}
  static Result<Pidfd> open_checked(uint32_t pid, uint64_t want_ticks, uint64_t max_ticks);
  int fd_ = -1;
  uint32_t pid_ = 0;
  uint64_t start_ticks_ = 0;
};

}  // namespace rein::process
