/* Holds that others cannot undo. A `pause` rule stops a process with SIGSTOP, but any
 * process allowed to signal it (a sibling of the agent, the agent itself) can send SIGCONT.
 * User space closes that for good by ptrace-seizing every thread (a seized tracee in a
 * ptrace-stop ignores SIGCONT); this file covers the window before it does so, and the
 * processes it could not seize:
 *  - the kernel records each tgid it stops for a pause rule in `held` (so a lost record
 *    cannot leave a process stopped with no hold: user space reconciles the map);
 *  - a held, not yet seized process that makes a syscall was resumed by someone: it is
 *    stopped again (the signal lands when that syscall returns) and counted;
 *  - SIGCONT sent to a held tgid is reported with its sender, at the sender's sys_enter. */
#ifndef REIN_HOLDS_BPF_H
#define REIN_HOLDS_BPF_H

#include "path.bpf.h" /* fd_file */

#define REIN_SIGCONT 18
#define REIN_SIGSTOP 19
#define REIN_PIDFS_MAGIC 0x50494446 /* PID_FS_MAGIC */

enum { NR_kill = 62, NR_tkill = 200, NR_tgkill = 234, NR_pidfd_send_signal = 424 };

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct rein_held);
} held SEC(".maps");

/* Non-zero while `held` may have entries: the per-syscall lookup of a tracked process in
 * `held` is skipped when nothing is held (the common case). Whoever inserts sets it after
 * the insert; user space clears it only when the map is empty, then looks again and sets
 * it back if an entry raced in, so an insert is never left unseen. */
volatile __u32 holds_active = 0;

/* Process start as /proc/PID/stat reports it: start_boottime in USER_HZ (100) ticks. */
static __always_inline __u64 current_start_ticks(void) {
  struct task_struct *t = (struct task_struct *)bpf_get_current_task();
  return BPF_CORE_READ(t, group_leader, start_boottime) / 10000000ULL;
}

/* The kernel just sent SIGSTOP to the current process for pause rule `rule`. An existing
 * entry (already held) keeps its time and state. */
static __always_inline void hold_mark(__u32 rule) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct rein_held v = {.rule = rule, .state = REIN_HELD_KERNEL,
                        .since_ns = bpf_ktime_get_boot_ns(),
                        .start_ticks = current_start_ticks()};
  bpf_map_update_elem(&held, &tgid, &v, BPF_NOEXIST);
  __sync_fetch_and_or(&holds_active, 1);
}

static __always_inline void hold_report(__u32 target, const struct rein_held *v, __u16 event,
                                        __u16 nr) {
  struct rein_hold_event e = {};
  fill_hdr(&e.h, REIN_REC_HOLD, sizeof(e));
  e.target = target;
  e.rule = v->rule;
  e.event = event;
  e.nr = nr;
  e.state = v->state;
  emit_urgent(&e, sizeof(e));
}

/* The tgid a pidfd refers to (pidfs keeps the struct pid in the inode), 0 if fd is not one. */
static __always_inline __u32 pidfd_tgid(int fd) {
  struct file *f = fd_file(fd);
  if (!f) return 0;
  if (BPF_CORE_READ(f, f_inode, i_sb, s_magic) != REIN_PIDFS_MAGIC) return 0;
  struct pid *p = (struct pid *)BPF_CORE_READ(f, f_inode, i_private);
  if (!p) return 0;
  return BPF_CORE_READ(p, numbers[0].nr);
}

/* At every sys_enter, before the tracked filter: SIGCONT aimed at a held process is noted
 * whoever sends it; a held process that runs is stopped again. */
static __always_inline void hold_sys_enter(__u32 tgid, long nr, struct pt_regs *regs) {
  if (nr == NR_kill || nr == NR_tkill || nr == NR_tgkill || nr == NR_pidfd_send_signal) {
    __u64 sig = nr == NR_tgkill ? regs->dx : regs->si;
    __s64 arg0 = (__s64)regs->di;
    if (sig != REIN_SIGCONT) return;
    __u32 target = 0;
    if (nr == NR_pidfd_send_signal)
      target = pidfd_tgid((int)arg0);
    else if (arg0 > 0)
      target = (__u32)arg0; /* tkill names a thread: found only for the main thread */
    if (!target) return;
    struct rein_held *v = bpf_map_lookup_elem(&held, &target);
    if (v) hold_report(target, v, REIN_HOLD_EV_CONT, (__u16)nr);
    return;
  }
  if (!holds_active || !is_tracked(tgid)) return; /* only tracked processes are ever held */
  struct rein_held *v = bpf_map_lookup_elem(&held, &tgid);
  if (!v || v->state == REIN_HELD_SEIZED) return;
  if (v->start_ticks && v->start_ticks != current_start_ticks()) {
    bpf_map_delete_elem(&held, &tgid); /* a reused pid: not the held process */
    return;
  }
  bpf_send_signal(REIN_SIGSTOP);
  count(REIN_CTR_HOLD_ESCAPES);
  hold_report(tgid, v, REIN_HOLD_EV_ESCAPE, (__u16)nr);
}

#endif
