/* Process lifecycle: exec (selection of new agents), fork (inheritance), exit. */
#ifndef REIN_PROCESS_BPF_H
#define REIN_PROCESS_BPF_H

#include "path.bpf.h"
#include "policy.bpf.h"
#include "track_quota.bpf.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define REIN_HASH_SPAN 256

/* Matches the exec against the exe and cgroup selectors. Exe selectors are FNV-1a 64
 * hashes of a full path or a basename (user space hashes the same way); the filename is
 * the one passed to execve, so a PATH lookup gives the full path. */
static __always_inline int match_selectors(struct scratch *s, struct linux_binprm *bprm,
                                           __u32 *selector) {
  if (cfg.cgroup_selectors) {
    for (int level = 0; level < 16; level++) {
      __u64 id = bpf_get_current_ancestor_cgroup_id(level);
      if (!id) break;
      __u32 *sel = bpf_map_lookup_elem(&sel_cgroup, &id);
      if (sel) {
        *selector = *sel;
        return 1;
      }
    }
  }
  if (cfg.exe_selectors) {
    const char *fname = BPF_CORE_READ(bprm, filename);
    if (bpf_probe_read_kernel_str(s->ustr, REIN_HASH_SPAN, fname) <= 0) return 0;
    __u64 full = FNV_OFFSET, base = FNV_OFFSET;
    for (int i = 0; i < REIN_HASH_SPAN; i++) {
      __u8 c = s->ustr[i];
      if (!c) break;
      full = (full ^ c) * FNV_PRIME;
      base = c == '/' ? FNV_OFFSET : (base ^ c) * FNV_PRIME;
    }
    __u32 *sel = bpf_map_lookup_elem(&sel_exe, &full);
    if (!sel) sel = bpf_map_lookup_elem(&sel_exe, &base);
    if (sel) {
      *selector = *sel;
      return 1;
    }
  }
  return 0;
}

/* --- script selectors: node CLIs are `node .../node_modules/@scope/pkg/bin.js` -------- */

#define REIN_SCRIPT_SPAN 1024
#define NM_LEN 13 /* "node_modules/" */

/* One byte of argv: finds the script argument (the first of argv[1..3] that is not an
 * option), its basename and the package after its last "node_modules/". */
static long script_step(__u32 i, void *unused) {
  struct scratch *s = get_scratch();
  if (!s) return 1;
  struct script_scan *p = &s->ss;
  if (i >= p->len) {
    if (p->target) p->end = i;
    return 1;
  }
  __u8 c = s->ustr[i & (REIN_SCRIPT_SPAN - 1)];
  if (i == p->arg_start && p->argi > 0) {
    if (p->argi > 3) return 1;
    if (c != '-') {
      p->target = 1;
      p->base_start = i;
    }
  }
  if (c == 0) {
    if (p->target) {
      p->end = i;
      return 1;
    }
    p->argi++;
    p->arg_start = i + 1;
    return 0;
  }
  if (!p->target) return 0;
  if (c == '/') p->base_start = i + 1;
  if (p->pkg_start && !p->pkg_end && i > p->pkg_start) {
    if (c == '/') {
      if (p->pkg_slash) p->pkg_slash = 0;
      else p->pkg_end = i;
    }
  }
  if (p->pkg_start && i == p->pkg_start && c == '@') p->pkg_slash = 1;
  static const char nm[NM_LEN] = "node_modules/";
  __u32 k = p->prog < NM_LEN ? p->prog : 0;
  if (c == nm[k]) {
    p->prog = k + 1;
    if (p->prog == NM_LEN) {
      p->pkg_start = i + 1;
      p->pkg_end = 0;
      p->pkg_slash = 0;
      p->prog = 0;
    }
  } else {
    p->prog = c == 'n' ? 1 : 0;
  }
  return 0;
}

static long hash_range_step(__u32 i, void *unused) {
  struct scratch *s = get_scratch();
  if (!s) return 1;
  struct script_scan *p = &s->ss;
  __u32 at = p->lo + i;
  if (at >= p->hi) return 1;
  p->hash = (p->hash ^ (__u8)s->ustr[at & (REIN_SCRIPT_SPAN - 1)]) * FNV_PRIME;
  return 0;
}

static __always_inline __u64 hash_ustr(struct scratch *s, __u32 lo, __u32 hi) {
  s->ss.lo = lo;
  s->ss.hi = hi;
  s->ss.hash = FNV_OFFSET;
  bpf_loop(REIN_SCRIPT_SPAN, hash_range_step, NULL, 0);
  return s->ss.hash;
}

/* Matches the script an interpreter was started with against the exe selectors: by its
 * basename ("gemini") or by its npm package ("@google/gemini-cli"). */
static __noinline int match_script(struct scratch *s, struct task_struct *p, __u32 *selector) {
  struct mm_struct *mm = BPF_CORE_READ(p, mm);
  __u64 astart = BPF_CORE_READ(mm, arg_start), aend = BPF_CORE_READ(mm, arg_end);
  __u64 alen = aend > astart ? aend - astart : 0;
  if (alen > REIN_SCRIPT_SPAN) alen = REIN_SCRIPT_SPAN;
  if (!alen || bpf_probe_read_user(s->ustr, alen & (REIN_SCRIPT_SPAN * 2 - 1), (void *)astart))
    return 0;
  struct script_scan *ss = &s->ss;
  __builtin_memset(ss, 0, sizeof(*ss));
  ss->len = alen;
  bpf_loop(REIN_SCRIPT_SPAN + 1, script_step, NULL, 0);
  if (!ss->target || ss->end <= ss->base_start) return 0;
  __u32 end = ss->end, pkg_start = ss->pkg_start, pkg_end = ss->pkg_end ? ss->pkg_end : ss->end;
  __u64 h = hash_ustr(s, ss->base_start, end);
  __u32 *sel = bpf_map_lookup_elem(&sel_exe, &h);
  if (!sel && pkg_start && pkg_end > pkg_start) {
    h = hash_ustr(s, pkg_start, pkg_end);
    sel = bpf_map_lookup_elem(&sel_exe, &h);
  }
  if (!sel) return 0;
  *selector = *sel;
  return 1;
}

/* The exec record: who the process is (exe, argv, cwd, ids, cgroup). Sent at exec and
 * when a running process is discovered as an agent. */
static __noinline int emit_process(struct task_struct *p, struct file *exe, __u32 flags,
                                   __u32 selector, const char *filename) {
  struct scratch *s = get_scratch();
  if (!s) return 0;
  __u32 tgid = BPF_CORE_READ(p, tgid);
  struct rein_exec *e = (struct rein_exec *)s->rec;
  __u32 off = sizeof(*e);
  /* Taken before `flags` gains the path walks' bits: a constant per call site, so the
   * verifier leaves out the rule matching (and the link count) of a discovery's record. */
  const bool at_exec = !(flags & REIN_F_DISCOVERED);
  /* Another process (one a tracked process took control of): its argv is in memory this
   * program cannot read from the caller's context. */
  const bool foreign = flags & REIN_F_CONTROLLED;
  struct path_req r = {.dentry = BPF_CORE_READ(exe, f_path.dentry),
                       .mnt = BPF_CORE_READ(exe, f_path.mnt),
                       .tflag = REIN_F_PATH_TRUNCATED};
  if (at_exec && BPF_CORE_READ(exe, f_inode, i_nlink) == 0) flags |= REIN_F_FILELESS;
  __u32 exe_len = put_path(s, off, &r);
  off += exe_len;

  struct mm_struct *mm = BPF_CORE_READ(p, mm);
  __u64 astart = BPF_CORE_READ(mm, arg_start), aend = BPF_CORE_READ(mm, arg_end);
  __u64 alen = aend > astart && !foreign ? aend - astart : 0;
  if (alen > REIN_ARGS_MAX - 1) {
    alen = REIN_ARGS_MAX - 1;
    flags |= REIN_F_ARGS_TRUNCATED;
    count(REIN_CTR_ARGS_TRUNCATED);
  }
  off &= REIN_REC_MASK;
  if (alen && bpf_probe_read_user(&s->rec[off], alen & (REIN_ARGS_MAX - 1), (void *)astart)) {
    count(REIN_CTR_READ_FAILED);
    alen = 0;
  }
  off += alen;
  struct path_req rc = {.dentry = BPF_CORE_READ(p, fs, pwd.dentry),
                        .mnt = BPF_CORE_READ(p, fs, pwd.mnt),
                        .tflag = REIN_F_PATH2_TRUNCATED};
  __u32 cwd_len = put_path(s, off, &rc);
  flags |= r.flags | rc.flags;
  off += cwd_len;
  /* The name exec'd as given: exec rules match it too (below), and the record carries it
   * so that replay under another policy can. A record whose three tails already fill it
   * (4 KiB each) goes without. */
  long n = filename ? bpf_probe_read_kernel_str(s->ustr, sizeof(s->ustr), filename) : 0;
  __u32 name_len = n > 1 ? (__u32)(n - 1) : 0, rec_name_len = 0;
  if (name_len && off + name_len <= REIN_REC_MASK) {
    bpf_probe_read_kernel(&s->rec[off & REIN_REC_MASK], name_len & REIN_PATH_MASK, s->ustr);
    rec_name_len = name_len & REIN_PATH_MASK;
  }
  off += rec_name_len;

  struct rein_rule rr = {};
  __u8 outcome = 0;
  if (at_exec) {
    if (match_exec(&s->rec[sizeof(*e)], exe_len, tgid, &rr, flags & REIN_F_FILELESS)) {
      outcome = enforce_rule(&rr); /* before the new image runs a single instruction */
    } else if (name_len && s->ustr[0] == '/' && match_exec(s->ustr, name_len, tgid, &rr, false)) {
      /* a rule on a symlink (/usr/bin/nc, /bin/sh) or on a script (whose exe is its
       * interpreter) names it so, not the file the kernel ran */
      outcome = enforce_rule(&rr);
    }
  }
  e->rule = outcome ? rr.rule + 1 : 0;
  e->action = outcome ? rr.action : 0;
  e->outcome = outcome;
  e->_pad1 = 0;
  /* fill the fixed part last: put_path may have used the ustr scratch */
  fill_hdr(&e->h, REIN_REC_EXEC, off);
  e->h.pid = BPF_CORE_READ(p, pid);
  e->h.tgid = tgid;
  e->ppid = BPF_CORE_READ(p, real_parent, tgid);
  e->flags = flags;
  e->cgroup_id = foreign ? BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id) : bpf_get_current_cgroup_id();
  e->selector = selector;
  e->exe_len = exe_len;
  e->args_len = alen;
  e->cwd_len = cwd_len;
  e->name_len = rec_name_len;
  e->gid = BPF_CORE_READ(p, cred, gid.val);
  e->h.uid = BPF_CORE_READ(p, cred, uid.val);
  BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
  /* urgent: user space hooks the new image's TLS code before it can talk */
  emit_urgent(e, off & REIN_REC_MASK);
  return 0;
}


SEC("tp_btf/sched_process_exec")
int BPF_PROG(rein_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
  __u32 tgid = BPF_CORE_READ(p, tgid);
  if (tgid == cfg.self_tgid) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  __u32 flags = 0, selector = 0;
  if (!is_tracked(tgid)) {
    bool script = false;
    if (match_selectors(s, bprm, &selector) ||
        (cfg.script_selectors && (script = match_script(s, p, &selector)))) {
      struct rein_tracked t = {.agent = tgid, .selector = selector,
                               .agent_start_ns = bpf_ktime_get_boot_ns()};
      const long err = bpf_map_update_elem(&tracked, &tgid, &t, BPF_ANY);
      tracked_changed();
      if (err) {
        count(REIN_CTR_DROP_TRACK_FULL);
        return 0;
      }
      track_admit(&t); /* a new agent: its first member, never refused */
      set_tracked_bit(tgid);
      flags |= REIN_F_NEW_AGENT | (script ? REIN_F_SCRIPT : 0);
    } else if (cfg.exec_candidates) {
      flags |= REIN_F_CANDIDATE;
      count(REIN_CTR_CANDIDATES);
    } else {
      return 0;
    }
  }

  return emit_process(p, BPF_CORE_READ(bprm, file), flags, selector, BPF_CORE_READ(bprm, filename));
}

/* Does this slot of a `sharers` entry still name a process sharing `key` (its file table, or
 * with `mm` its address space)? */
static __always_inline bool still_shares(__u32 tgid, __u64 key, int mm) {
  if (!tgid || !bpf_task_from_pid) return tgid != 0;
  struct task_struct *t = bpf_task_from_pid(tgid);
  if (!t) return false;
  __u64 shared = mm ? (__u64)t->mm : (__u64)t->files;
  bpf_task_release(t);
  return shared == key;
}

/* clone(CLONE_FILES) or clone(CLONE_VM) made a process that shares its parent's file table or
 * address space: both go into `sharers`. The child takes an empty slot, or one whose process
 * has gone or no longer shares (exec'd, exited), so children that come and go cannot fill
 * the entry before the one that matters. Global: verified once, not per call site. */
__noinline int note_sharers(__u64 key, __u32 parent, __u32 child, int mm) {
  struct sharers *sh = bpf_map_lookup_elem(&sharers, &key);
  if (!sh) {
    struct sharers init = {.tgid = {parent, child}};
    bpf_map_update_elem(&sharers, &key, &init, BPF_NOEXIST);
    return 0;
  }
  bool has_parent = false;
  for (int i = 0; i < REIN_SHARERS; i++)
    if (sh->tgid[i] == parent) has_parent = true;
  for (int i = 0; i < REIN_SHARERS; i++) {
    __u32 was = sh->tgid[i];
    if (was == parent || was == child) continue;
    if (still_shares(was, key, mm)) continue;
    if (!has_parent) {
      sh->tgid[i] = parent;
      has_parent = true;
      continue;
    }
    sh->tgid[i] = child;
    return 0;
  }
  return 0;
}

/* Is the fork being traced a vfork (CLONE_VFORK)? Its child shares the parent's memory only
 * until it execs, while the parent waits: not a sharer worth a slot. The clone flags are
 * the parent's syscall arguments (x86_64: vfork 58, clone 56 with flags first, clone3 435
 * with a struct clone_args whose first field is the flags). */
#define REIN_CLONE_VFORK 0x4000
static __always_inline bool tracing_vfork(void) {
  struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
  if (!r) return false;
  long nr = r->orig_ax;
  if (nr == 58) return true;
  __u64 arg = r->di;
  if (nr == 56) return arg & REIN_CLONE_VFORK;
  __u64 flags = 0; /* one load per branch: the verifier refuses one insn on two pointer kinds */
  if (nr != 435 || bpf_probe_read_user(&flags, sizeof(flags), (void *)arg)) return false;
  return flags & REIN_CLONE_VFORK;
}

extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym __weak;
#define REIN_PF_KTHREAD 0x00200000 /* PF_KTHREAD, a macro BTF does not carry */

/* A tracked process took control of process `vpid` (its pid namespace's number): ptrace
 * attach or seize, or process_vm_writev into it. Whatever it makes that process do is the
 * agent's doing, so the process joins the agent: tracked from now on, its children with it,
 * and the policy applies to it. Never init, the sensor, or a process already tracked. Needs
 * bpf_task_from_vpid (Linux 6.13 and later). Global: verified once. */
__noinline int adopt_controlled(__u32 vpid, __u32 how) {
  if (!bpf_task_from_vpid) return 0; /* a weak kfunc this kernel lacks is 0 */
  struct task_struct *t = bpf_task_from_vpid(vpid);
  if (!t) return 0;
  __u32 tgid = t->tgid, me = bpf_get_current_pid_tgid() >> 32;
  struct rein_tracked *mine = bpf_map_lookup_elem(&tracked, &me);
  if (tgid > 1 && tgid != cfg.self_tgid && tgid != me && !(t->flags & REIN_PF_KTHREAD) &&
      !is_tracked(tgid) && mine) {
    struct rein_tracked copy = *mine;
    if (track_admit(&copy)) {
      if (bpf_map_update_elem(&tracked, &tgid, &copy, BPF_NOEXIST) == 0) {
        tracked_changed();
        set_tracked_bit(tgid);
        emit_process(t, BPF_CORE_READ(t, mm, exe_file),
                     REIN_F_DISCOVERED | REIN_F_CONTROLLED | (how & REIN_F_CONTROLLED_VM), me, NULL);
      } else {
        track_release(&copy);
      }
    }
  }
  bpf_task_release(t);
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(rein_fork, struct task_struct *parent, struct task_struct *child) {
  __u32 ptgid = BPF_CORE_READ(parent, tgid);
  __u32 cpid = BPF_CORE_READ(child, pid);
  if (cpid != BPF_CORE_READ(child, tgid)) return 0; /* a new thread, not a process */
  /* a new process with a pid still in `tracked`: left by a process that exited before its
   * entry was made (track_quota.bpf.h). It must not inherit that agent. */
  if (is_tracked(cpid)) track_forget(cpid);
  if (!is_tracked(ptgid)) return 0;
  struct rein_tracked *t = bpf_map_lookup_elem(&tracked, &ptgid);
  if (!t) return 0;
  struct rein_tracked copy = *t;
  if (!track_admit(&copy)) return 0; /* the agent is at its share of the table */
  const long err = bpf_map_update_elem(&tracked, &cpid, &copy, BPF_ANY);
  tracked_changed();
  if (err) {
    track_release(&copy);
    count(REIN_CTR_DROP_TRACK_FULL);
    return 0;
  }
  set_tracked_bit(cpid);
  struct files_struct *pfiles = BPF_CORE_READ(parent, files);
  if (pfiles && pfiles == BPF_CORE_READ(child, files)) note_sharers((__u64)pfiles, ptgid, cpid, 0);
  struct mm_struct *pmm = BPF_CORE_READ(parent, mm);
  if (pmm && pmm == BPF_CORE_READ(child, mm) && !tracing_vfork())
    note_sharers((__u64)pmm, ptgid, cpid, 1);
  struct rein_fork f = {};
  fill_hdr(&f.h, REIN_REC_FORK, sizeof(f));
  f.h.pid = cpid;
  f.h.tgid = cpid;
  f.h.agent = copy.agent;
  f.ppid = ptgid;
  f.cgroup_id = bpf_get_current_cgroup_id();
  BPF_CORE_READ_STR_INTO(&f.comm, child, comm);
  emit(&f, sizeof(f));
  return 0;
}

/* Reports bytes written through files still open when their process exits. */
static __noinline void flush_open_file(struct rein_exit *x, struct open_file_val *val, __u64 fid) {
  struct rein_file_close c = {};
  if (!x || !val) return;
  c.h = x->h;
  c.h.kind = REIN_REC_FILE_CLOSE;
  c.h.size = sizeof(c);
  c.file_id = fid;
  c.fd = val->fd;
  c.writes = val->writes;
  c.bytes = val->bytes;
  emit(&c, sizeof(c));
  open_file_release(val);
}

#define REIN_OPEN_SWEEP_CHUNK 64

/* One bpf_loop step of the exit's sweep: a run of slots looked at with inlined array
 * lookups (a callback per slot, as bpf_for_each_map_elem makes, cost ~18 ns a slot). */
static long sweep_open_chunk(__u32 chunk, void *arg) {
  struct rein_exit *x = arg;
  __u32 base = chunk * REIN_OPEN_SWEEP_CHUNK;
  for (__u32 i = 0; i < REIN_OPEN_SWEEP_CHUNK; i++) {
    struct open_file_val *v = open_file_slot(base, i);
    if (!v) continue;
    __u64 fid = v->fid;
    if (fid && !(fid & REIN_OPEN_BUSY) && v->tgid == x->h.tgid) flush_open_file(x, v, fid);
  }
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(rein_exit, struct task_struct *p, bool group_dead) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  if (!is_tracked(tgid)) return 0;
  /* a thread killed inside a syscall never exits it: free its slot */
  __u32 tid = (__u32)id, slot_idx = tid & (REIN_PENDING_SLOTS - 1);
  struct pending_call *slot = bpf_map_lookup_elem(&pending, &slot_idx);
  if (slot && slot->tid == tid) slot->tid = 0;
  if (pending_overflow_live) {
    struct pending_call *o = bpf_task_storage_get(&pending_overflow, bpf_get_current_task_btf(),
                                                  NULL, 0);
    if (o && o->tid == tid) {
      o->tid = 0;
      __sync_fetch_and_sub(&pending_overflow_live, 1);
    }
  }
  if (!group_dead) return 0;
  struct rein_exit x = {};
  fill_hdr(&x.h, REIN_REC_EXIT, sizeof(x));
  x.exit_code = BPF_CORE_READ(p, exit_code);
  x.ppid = BPF_CORE_READ(p, real_parent, tgid);
  if (is_open_owner(tgid)) {
    bpf_loop(REIN_OPEN_SLOTS / REIN_OPEN_SWEEP_CHUNK, sweep_open_chunk, &x, 0);
    clear_open_owner(tgid);
  }
  emit(&x, sizeof(x));
  track_forget(tgid);
  return 0;
}

#endif
