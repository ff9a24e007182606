#include "enforce/process_holder.h"

#include <dirent.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace rein::enforce {
namespace {
constexpr size_t kMaxThreads = 4096;

std::set<uint32_t> list_tids(uint32_t pid) {
  std::set<uint32_t> out;
  DIR* d = opendir(fmt::format("/proc/{}/task", pid).c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (out.size() >= kMaxThreads) break;
    char* end = nullptr;
    unsigned long t = strtoul(e->d_name, &end, 10);
    if (e->d_name[0] != '.' && end && *end == 0 && t > 0) out.insert(uint32_t(t));
  }
  closedir(d);
  return out;
}

uint64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

// Waits (bounded) until tid reports a stop; false when it exited or did not stop in time.
bool wait_stopped(uint32_t tid, uint64_t timeout_ms) {
  uint64_t until = mono_ms() + timeout_ms;
  while (true) {
    int st = 0;
    pid_t r = waitpid(pid_t(tid), &st, __WALL | WNOHANG);
    if (r == pid_t(tid)) {
      if (WIFSTOPPED(st)) return true;
      if (WIFEXITED(st) || WIFSIGNALED(st)) return false;
    } else if (r < 0) {
      return false;
    }
    if (mono_ms() >= until) return false;
    timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
}
}  // namespace

ProcessHolder::~ProcessHolder() {
  // The daemon ends holds itself before it stops; whatever is left is released to the
  // kernel's implicit detach rather than killed.
  for (auto& [pid, h] : held_) detach_all(&h.tids);
}

std::optional<uint64_t> ProcessHolder::start_ticks(uint32_t pid) const {
  auto it = held_.find(pid);
  if (it == held_.end()) return std::nullopt;
  return it->second.pidfd.start_ticks();
}

void ProcessHolder::detach_all(std::set<uint32_t>* tids) {
  for (uint32_t t : *tids) {
    if (ptrace(PTRACE_DETACH, pid_t(t), nullptr, nullptr) != 0 && errno == ESRCH) {
      // not in a ptrace-stop yet (it was still on its way to the trap): wait, then retry
      if (wait_stopped(t, 50)) ptrace(PTRACE_DETACH, pid_t(t), nullptr, nullptr);
    }
    reaping_.insert(t);  // notifications it queued before the detach
  }
  tids->clear();
}

// Seizes and interrupts every thread; threads started meanwhile are picked up by another
// pass. Returns "" on success, else why (and nothing stays seized).
std::string ProcessHolder::seize(uint32_t pid, std::set<uint32_t>* tids) {
  for (int pass = 0; pass < 8; pass++) {
    std::vector<uint32_t> fresh;
    for (uint32_t t : list_tids(pid))
      if (!tids->count(t)) fresh.push_back(t);
    if (fresh.empty()) break;
    for (uint32_t t : fresh) {
      if (ptrace(PTRACE_SEIZE, pid_t(t), nullptr, nullptr) != 0) {
        if (errno == ESRCH) continue;  // that thread exited
        std::string why = fmt::format("ptrace seize of thread {}: {}", t, std::strerror(errno));
        detach_all(tids);
        return why;
      }
      tids->insert(t);
      ptrace(PTRACE_INTERRUPT, pid_t(t), nullptr, nullptr);
    }
  }
  if (tids->empty()) return "no thread could be seized";
  for (uint32_t t : *tids) settle(t);
  return "";
}

// Waits for tid's ptrace-stop. A signal-delivery-stop (the kernel's SIGSTOP was still
// pending when it was seized, or another signal came) is passed on, so the SIGSTOP makes
// the group stop it was sent for: then, should rein die, the kernel's implicit detach
// leaves the process stopped rather than running. It traps again before running any code
// of its own (the interrupt is still pending).
void ProcessHolder::settle(uint32_t tid) {
  for (int round = 0; round < 8; round++) {
    uint64_t until = mono_ms() + 100;
    int st = 0;
    pid_t r = 0;
    while ((r = waitpid(pid_t(tid), &st, __WALL | WNOHANG)) == 0 && mono_ms() < until) {
      timespec pause{0, 1'000'000};
      nanosleep(&pause, nullptr);
    }
    if (r != pid_t(tid) || !WIFSTOPPED(st)) return;  // exited, or still on its way
    if ((st >> 16) == PTRACE_EVENT_STOP) return;     // a group-stop or interrupt trap: held
    ptrace(PTRACE_CONT, pid_t(tid), nullptr, reinterpret_cast<void*>(uintptr_t(WSTOPSIG(st))));
  }
}

// The kernel's SIGSTOP lands when the stopped syscall returns: give it that moment, so the
// process is in its group stop (every thread 'T') before it is seized.
static bool wait_group_stop(uint32_t pid, uint64_t timeout_ms) {
  uint64_t until = mono_ms() + timeout_ms;
  while (true) {
    bool all = true;
    auto tids = list_tids(pid);
    for (uint32_t t : tids) {
      auto st = process::proc_state(t);
      if (st && !process::is_stopped_state(st->state)) all = false;
    }
    if (all || mono_ms() >= until) return all;
    timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
}

ProcessHolder::Started ProcessHolder::hold(uint32_t pid, uint64_t seen_ns) {
  Started out;
  if (auto it = held_.find(pid); it != held_.end()) {
    out.alive = it->second.pidfd.alive();
    out.seized = !it->second.tids.empty();
    out.start_ticks = it->second.pidfd.start_ticks();
    out.how = "already held";
    return out;
  }
  auto fd = process::Pidfd::open_seen(pid, seen_ns);
  if (!fd) return out;
  out.alive = true;
  out.start_ticks = fd->start_ticks();
  Held h{std::move(*fd), {}};
  wait_group_stop(pid, 50);
  std::string why = seize(pid, &h.tids);
  out.seized = why.empty();
  out.how = out.seized ? "seized (ptrace): SIGCONT from other processes cannot resume it"
                       : fmt::format(
                             "not seized ({}): held by SIGSTOP, and the kernel stops it "
                             "again whenever it runs",
                             why);
  // Stopped for sure before the pidfd is trusted with the hold: SIGSTOP again is harmless.
  if (!out.seized) (void)h.pidfd.send(SIGSTOP);
  held_.emplace(pid, std::move(h));
  return out;
}

bool ProcessHolder::release(uint32_t pid, bool approve) {
  auto it = held_.find(pid);
  if (it == held_.end()) return signal(pid, approve ? SIGCONT : SIGKILL, 0);
  Held h = std::move(it->second);
  held_.erase(it);
  bool alive = h.pidfd.alive();
  if (approve) {
    detach_all(&h.tids);  // back to the group-stop (or running, if a SIGCONT came meanwhile)
    return h.pidfd.send(SIGCONT).ok() && alive;
  }
  bool ok = h.pidfd.send(SIGKILL).ok();
  for (uint32_t t : h.tids) reaping_.insert(t);
  reap();
  return ok && alive;
}

void ProcessHolder::forget(uint32_t pid) {
  auto it = held_.find(pid);
  if (it == held_.end()) return;
  for (uint32_t t : it->second.tids) reaping_.insert(t);
  held_.erase(it);
  reap();
}

bool ProcessHolder::signal(uint32_t pid, int sig, uint64_t seen_ns) {
  if (auto it = held_.find(pid); it != held_.end()) return it->second.pidfd.send(sig).ok();
  auto fd = process::Pidfd::open_seen(pid, seen_ns);
  return fd && fd->send(sig).ok();
}

void ProcessHolder::reap() {
  for (auto it = reaping_.begin(); it != reaping_.end();) {
    int st = 0;
    pid_t r = 0;
    int n = 0;
    // Drain what is queued; ECHILD: no longer ours to wait for (detached, or gone).
    while (n++ < 16 && (r = waitpid(pid_t(*it), &st, __WALL | WNOHANG)) == pid_t(*it) &&
           WIFSTOPPED(st)) {
    }
    bool done = r < 0 || (r == pid_t(*it) && (WIFEXITED(st) || WIFSIGNALED(st)));
    it = done ? reaping_.erase(it) : std::next(it);
  }
  // Held tracees: their stop notifications (a SIGCONT that reached them re-reports the stop).
  for (auto& [pid, h] : held_) {
    for (auto t = h.tids.begin(); t != h.tids.end();) {
      int st = 0;
      pid_t r = waitpid(pid_t(*t), &st, __WALL | WNOHANG);
      bool gone = r < 0 || (r == pid_t(*t) && (WIFEXITED(st) || WIFSIGNALED(st)));
      t = gone ? h.tids.erase(t) : std::next(t);
    }
  }
}

}  // namespace rein::enforce
