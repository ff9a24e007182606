// Keeps paused processes stopped until rein itself ends their hold. SIGSTOP alone is undone
// by any SIGCONT (a sibling's `kill -CONT`); a tracee that rein has PTRACE_SEIZEd sits in a
// ptrace-stop that SIGCONT does not end (only the tracer, or SIGKILL). So every thread of a
// held process is seized and interrupted; approve = detach every thread, then SIGCONT;
// deny = SIGKILL. Every signal goes through the process's pidfd, opened when the hold
// begins and checked against the time the process was seen.
//
// ptrace binds a tracee to the tracer THREAD: all calls must come from one thread (rein's
// event loop).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "process/pidfd.h"

namespace rein::enforce {

class ProcessHolder {
 public:
  struct Started {
    bool alive = false;
    bool seized = false;
    std::string how;
    uint64_t start_ticks = 0;
  };
  ProcessHolder() = default;
  ProcessHolder(const ProcessHolder&) = delete;
  ProcessHolder& operator=(const ProcessHolder&) = delete;
  ~ProcessHolder();

  // pid was stopped (or is being stopped) by a pause seen at seen_ns (boot time).
  Started hold(uint32_t pid, uint64_t seen_ns);
  // approve: detach every thread, then SIGCONT; else SIGKILL. False when it is gone.
  bool release(uint32_t pid, bool approve);
  // It exited: stop tracking it (its threads are reaped by reap()).
  void forget(uint32_t pid);
  // A signal through the held process's pidfd, or a fresh one checked against seen_ns.
  bool signal(uint32_t pid, int sig, uint64_t seen_ns);
  // Consumes ptrace notifications of tracees; a killed tracee's exit reaches its parent only
  // after its tracer has waited for it.
  void reap();
  bool holds(uint32_t pid) const { return held_.count(pid) > 0; }
  std::optional<uint64_t> start_ticks(uint32_t pid) const;

 private:
  struct Held {
    process::Pidfd pidfd;
    std::set<uint32_t> tids;  // seized threads
  };
  std::string seize(uint32_t pid, std::set<uint32_t>* tids);
  void detach_all(std::set<uint32_t>* tids);
  void settle(uint32_t tid);
  std::map<uint32_t, Held> held_;
  std::set<uint32_t> reaping_;  // tids of former tracees not yet waited for
};

}  // namespace rein::enforce
