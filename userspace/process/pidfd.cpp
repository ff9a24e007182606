#include "process/pidfd.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "process/proc_reader.h"

namespace rein::process {

std::optional<ProcState> proc_state(uint32_t pid, const std::string& proc_root) {
  auto text = read_file_bounded(fmt::format("{}/{}/stat", proc_root, pid), kMaxSmallProcFileBytes);
  if (!text) return std::nullopt;
  auto st = parse_proc_stat(*text);
  if (!st) return std::nullopt;
  return ProcState{st->state, st->start_ticks};
}

// want_ticks: exact start (0 = any); max_ticks: latest allowed start (0 = any).
Result<Pidfd> Pidfd::open_checked(uint32_t pid, uint64_t want_ticks, uint64_t max_ticks) {
  if (pid <= 1) return make_error(fmt::format("pid {}: refused", pid));
  // Open first, then read /proc: if the pidfd's process had gone before the read, alive()
  // below sees it; so a start time read while it is alive is the pidfd's own.
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid_t(pid), 0));
  if (fd < 0) return make_error(fmt::format("pidfd_open {}: {}", pid, std::strerror(errno)));
  Pidfd p(fd, pid, 0);
  auto st = proc_state(pid);
  if (!st || !p.alive()) return make_error(fmt::format("pid {}: exited", pid));
  if (want_ticks && st->start_ticks != want_ticks)
    return make_error(fmt::format("pid {} is another process now (started at tick {}, not {})", pid,
                                  st->start_ticks, want_ticks));
  if (max_ticks && st->start_ticks > max_ticks)
    return make_error(
        fmt::format("pid {} is another process now (started after it was seen)", pid));
  p.start_ticks_ = st->start_ticks;
  return p;
}

Result<Pidfd> Pidfd::open_exact(uint32_t pid, uint64_t start_ticks) {
  return open_checked(pid, start_ticks, 0);
}

Result<Pidfd> Pidfd::open_seen(uint32_t pid, uint64_t seen_boot_ns) {
  long hz = sysconf(_SC_CLK_TCK);
  uint64_t ticks = hz > 0 ? seen_boot_ns / (1'000'000'000ULL / uint64_t(hz)) : 0;
  return open_checked(pid, 0, seen_boot_ns ? ticks : 0);
}

Pidfd::Pidfd(Pidfd&& o) noexcept : fd_(o.fd_), pid_(o.pid_), start_ticks_(o.start_ticks_) {
  o.fd_ = -1;
}

Pidfd& Pidfd::operator=(Pidfd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    pid_ = o.pid_;
    start_ticks_ = o.start_ticks_;
    o.fd_ = -1;
  }
  return *this;
}

Pidfd::~Pidfd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> Pidfd::send(int sig) const {
  if (fd_ < 0) return make_error("no pidfd");
  if (syscall(SYS_pidfd_send_signal, fd_, sig, nullptr, 0) != 0)
    return make_error(
        fmt::format("pidfd_send_signal {} to {}: {}", sig, pid_, std::strerror(errno)));
  return {};
}

bool Pidfd::alive() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

}  // namespace rein::process
