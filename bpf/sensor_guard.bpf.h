/* The sensor's own kernel objects and process, against the agents it watches. A root agent
 * could take a map's fd by id and delete itself from `tracked` or lift a block, take a
 * link's fd and detach a hook, or attach to the sensor with ptrace. No hook here can refuse
 * a syscall; but these hand over what they give (an fd, an attachment) on the way back from
 * the call, and a SIGKILL sent at its entry is delivered first: the process dies holding
 * nothing (with the processes sharing its file table or memory, as at any deny).
 *  - bpf(2) taking a program, map or link by id: killed when the process is in the scope
 *    of a file or network rule (the maps that enforce them are what it could change), else
 *    reported. Every id counts: the id is in the caller's memory, and a sibling thread could
 *    change it between this program's read and the kernel's.
 *  - ptrace attach/seize, process_vm_readv/writev or pidfd_getfd aimed at the sensor:
 *    killed, always. (A process_vm_writev still writes before the writer dies, and a signal
 *    sent to the sensor still lands: both are reported only by their absence.) */
#ifndef REIN_SENSOR_GUARD_BPF_H
#define REIN_SENSOR_GUARD_BPF_H

#include "file.bpf.h"
#include "net.bpf.h"

#define NR_bpf 321
#define NR_process_vm_readv 310
#define NR_pidfd_getfd 438

static __always_inline void guard_report(__u32 what, struct rein_rule *r, bool net) {
  ban_mechanism(REIN_MECH_SENSOR_TAMPER, what | (net ? REIN_TAMPER_NET_RULE : 0), r);
}

/* bpf(2) by a tracked process. Global: verified once. */
__noinline int guard_bpf(__u32 cmd) {
  if (cmd != BPF_PROG_GET_FD_BY_ID && cmd != BPF_MAP_GET_FD_BY_ID && cmd != BPF_LINK_GET_FD_BY_ID)
    return 0;
  __u32 cls = class_of(bpf_get_current_pid_tgid() >> 32);
  if (cls >= 64) return 0;
  struct rein_rule *fr = bpf_map_lookup_elem(&file_scope_rule, &cls);
  struct rein_rule *nr = bpf_map_lookup_elem(&net_scope_rule, &cls);
  if (fr && fr->ops) guard_report(cmd, fr, false);
  else if (nr && nr->ops) guard_report(cmd, nr, true);
  else guard_report(cmd, NULL, false);
  return 0;
}

/* ptrace, process_vm_readv/writev or pidfd_getfd by a tracked process: is the target the
 * sensor? `target` is a pid in the caller's namespace, or with pidfd a descriptor.
 * Global: verified once. */
__noinline int guard_target(__u32 nr, __s32 target, int pidfd) {
  __u32 tgid = 0;
  if (pidfd) {
    tgid = pidfd_tgid(target);
  } else if (bpf_task_from_vpid) {
    struct task_struct *t = bpf_task_from_vpid(target);
    if (!t) return 0;
    tgid = t->tgid;
    bpf_task_release(t);
  }
  if (!tgid || tgid != cfg.self_tgid) return 0;
  struct rein_rule always = {.rule = 0xffffffff, .action = REIN_ACT_DENY};
  guard_report(nr | REIN_TAMPER_AT_SENSOR, &always, false);
  return 0;
}

#endif
