/* Policy decided in the kernel, with no round trip to user space:
 *  - network: cgroup connect/sendmsg hooks refuse the call (EPERM): prevention;
 *  - files: the resolved path is matched at sys_exit; deny = SIGKILL, pause = SIGSTOP (this
 *    kernel has no BPF-LSM, so the one syscall completes; the event says "killed"/"paused");
 *  - exec: matched at sched_process_exec, before the new image runs any of its code.
 * User space compiles the policy file into these maps (userspace/policy). */
#ifndef REIN_POLICY_BPF_H
#define REIN_POLICY_BPF_H

#include "common.bpf.h"
#include "holds.bpf.h"
#include "rein/abi/rule_eval.h"

#define SIGKILL 9
#define SIGSTOP 19

/* File rules whose pattern is a plain prefix ("/root/.ssh/" followed by a double star) or
 * an exact path. Each leaf holds every rule whose prefix covers it (rule_eval.h), so the
 * longest match sees broader rules too. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 4096);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rein_path_key);
  __type(value, struct rein_rule_set);
} policy_fpath SEC(".maps");

/* File rules of the form "**\/NAME": FNV-1a 64 of NAME -> every rule naming it. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct rein_rule_set);
} policy_fbase SEC(".maps");

/* Exec rules: FNV-1a 64 of an executable's full path or basename. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct rein_rule_set);
} policy_exec SEC(".maps");

/* Network rules: CIDRs over v4-mapped 16-byte addresses (hostname rules are compiled to the
 * addresses agents resolved). Each leaf holds every rule whose CIDR covers it. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 16384);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rein_net_key);
  __type(value, struct rein_rule_set);
} policy_net SEC(".maps");

/* Host-name rules (exact names): FNV-1a 64 of the lower-cased name -> its rules. Addresses
 * in DNS answers for these names become policy_net entries in the kernel, before the agent
 * that asked can read the answer and connect. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct rein_rule_set);
} policy_hosts SEC(".maps");

/* Learning an address: the host's rules (those in the asker's scope) and the merged set.
 * Its own map: DNS ingress runs in softirq and may interrupt a program using policy_scratch
 * on the same CPU. */
struct learn_scratch {
  struct rein_rule_set host;
  struct rein_rule_set merged;
  struct rein_rule add; /* rein_set_add's state, kept here between callbacks */
  __u32 dup;
  __s32 victim;
  __s32 victim_sev;
  __u32 _pad;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct learn_scratch);
} learn_scratch_map SEC(".maps");

/* Agents (by root pid) whose LLM egress a budget refused -> budget index + 1. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u32);
} blocked_agents SEC(".maps");

/* Endpoints that served LLM API calls (learned from llm.call peers). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct rein_endpoint);
  __type(value, __u32);
} llm_endpoints SEC(".maps");

/* Selector index (as stored in `tracked`) -> agent class, the bit rules scope on. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u32);
} sel_class SEC(".maps");

/* Lookup keys live in per-CPU memory: the path key alone is bigger than the BPF stack. */
struct policy_scratch {
  struct rein_path_key pkey;
  char tail[REIN_PATH_KEY];
  __u64 h_full, h_base; /* hash_path state, here so the loop body is verified once */
  __u32 h_len;
  __u32 _pad;
  struct rein_eval_query q;
  struct rein_eval_state st;
  struct rein_rule_set sets[2]; /* the lookup's sets, copied so bpf_loop callbacks see them */
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct policy_scratch);
} policy_scratch_map SEC(".maps");

/* Which rule scopes this process's agent falls in. */
static __always_inline __u64 scope_bit(__u32 tgid) {
  struct rein_tracked *t = bpf_map_lookup_elem(&tracked, &tgid);
  if (!t) return 0;
  if (t->selector == 0xffffffff) return 1ULL << REIN_CLASS_DISCOVERED;
  __u32 sel = t->selector;
  __u32 *cls = bpf_map_lookup_elem(&sel_class, &sel);
  __u32 c = cls ? *cls : REIN_CLASS_CLI;
  return c < 64 ? 1ULL << c : 0;
}


/* Applies a matched file or exec rule to the current task; returns the outcome. A pause is
 * also recorded in `held` (holds.bpf.h): it survives a lost record and a sibling's SIGCONT. */
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;
extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
                                u64 value) __ksym __weak;

/* SIGKILL to the other processes that share the current one's file table or address space
 * (`sharers`): bpf_send_signal reaches only the current thread group. Kernels before 6.13
 * have no bpf_send_signal_task: there the sharers live on (docs/policy.md). A global
 * function, so the verifier checks it once: inlined at every enforcement site (static), its
 * loop of task lookups added two seconds to the sensor's start. */
__noinline int kill_sharers(void) {
  if (!bpf_send_signal_task) return 0; /* a weak kfunc this kernel lacks is 0 */
  struct task_struct *cur = bpf_get_current_task_btf();
  __u32 self = cur->tgid;
  __u64 keys[2] = {(__u64)cur->files, (__u64)cur->mm};
  for (int k = 0; k < 2; k++) {
    __u64 key = keys[k];
    struct sharers *sh = bpf_map_lookup_elem(&sharers, &key);
    if (!sh) continue;
    for (int i = 0; i < REIN_SHARERS; i++) {
      __u32 tgid = sh->tgid[i];
      if (!tgid || tgid == self) continue;
      struct task_struct *t = bpf_task_from_pid(tgid);
      if (!t) continue;
      __u64 shared = k ? (__u64)t->mm : (__u64)t->files;
      if (shared == key) bpf_send_signal_task(t, SIGKILL, PIDTYPE_TGID, 0);
      bpf_task_release(t);
    }
  }
  return 0;
}

/* A REIN_REC_MECHANISM record of what a tracked process is doing (io_uring, a raw socket, a
 * reach for the sensor). With `r`, the rule under which that is not allowed at all: SIGKILL
 * now, at the syscall's entry, to the process and its sharers, so it dies on the way back
 * before it can use what the call gives. */
static __always_inline void ban_mechanism(__u32 mechanism, __u32 flags, const struct rein_rule *r) {
  struct rein_mechanism e = {};
  fill_hdr(&e.h, REIN_REC_MECHANISM, sizeof(e));
  e.mechanism = mechanism;
  e.flags = flags;
  if (r) {
    bpf_send_signal(SIGKILL);
    kill_sharers();
    e.rule = r->rule + 1;
    e.action = r->action;
    e.outcome = REIN_OUT_KILLED;
  }
  emit_urgent(&e, sizeof(e));
}

static __always_inline __u8 enforce_rule_index(__u8 action, __u32 rule) {
  if (action == REIN_ACT_DENY) {
    bpf_send_signal(SIGKILL);
    kill_sharers();
    return REIN_OUT_KILLED;
  }
  if (action == REIN_ACT_PAUSE) {
    bpf_send_signal(SIGSTOP);
    hold_mark(rule);
    return REIN_OUT_PAUSED;
  }
  return REIN_OUT_AUDITED;
}
static __always_inline __u8 enforce_rule(const struct rein_rule *r) {
  return enforce_rule_index(r->action, r->rule);
}
static __always_inline __u8 enforce(__u8 action) { return enforce_rule_index(action, 0xffffffff); }

static struct policy_scratch *get_policy_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&policy_scratch_map, &zero);
}

/* rule_eval.h's two passes over ps->sets[0..1], one entry per callback: unrolled, the
 * verifier walked every entry of every set at every call site and gave up. */
static long eval_rule_cb(__u32 i, void *unused) {
  struct policy_scratch *ps = get_policy_scratch();
  if (!ps) return 1;
  struct rein_rule_set *set = &ps->sets[(i / REIN_RULESET_MAX) & 1];
  __u32 j = i % REIN_RULESET_MAX;
  if (j < set->n) rein_eval_rule_step(&set->r[j & (REIN_RULESET_MAX - 1)], &ps->q, &ps->st);
  return 0;
}

static long eval_otherwise_cb(__u32 i, void *unused) {
  struct policy_scratch *ps = get_policy_scratch();
  if (!ps) return 1;
  struct rein_rule_set *set = &ps->sets[(i / REIN_RULESET_MAX) & 1];
  __u32 j = i % REIN_RULESET_MAX;
  if (j < set->n) rein_eval_otherwise_step(&set->r[j & (REIN_RULESET_MAX - 1)], &ps->q, &ps->st);
  return 0;
}

/* Decides ps->q over up to two sets (NULL = none); the result is in ps->st. */
static __noinline void eval_sets(struct policy_scratch *ps, const struct rein_rule_set *a,
                                 const struct rein_rule_set *b) {
  if (a)
    ps->sets[0] = *a;
  else
    ps->sets[0].n = 0;
  if (b)
    ps->sets[1] = *b;
  else
    ps->sets[1].n = 0;
  rein_eval_init(&ps->st);
  bpf_loop(2 * REIN_RULESET_MAX, eval_rule_cb, NULL, 0);
  bpf_loop(2 * REIN_RULESET_MAX, eval_otherwise_cb, NULL, 0);
}

/* The query (scope, op, path length) against two rule sets; 1 with *out filled when a rule
 * acts. */
static __always_inline int decide_sets(struct policy_scratch *ps, const struct rein_rule_set *a,
                                       const struct rein_rule_set *b, __u64 scope, __u32 op,
                                       __u32 len, struct rein_rule *out) {
  ps->q.scope = scope;
  ps->q.op = op;
  ps->q.path_len = len;
  ps->q.port = 0;
  eval_sets(ps, a, b);
  if (ps->st.action == REIN_ACT_NONE) return 0;
  __builtin_memset(out, 0, sizeof(*out));
  out->rule = ps->st.rule;
  out->action = ps->st.action;
  return 1;
}

static long hash_step(__u32 i, void *unused) {
  struct policy_scratch *ps = get_policy_scratch();
  if (!ps || i >= ps->h_len) return 1;
  __u8 c = ps->tail[i & (REIN_PATH_KEY - 1)];
  ps->h_full = (ps->h_full ^ c) * 0x100000001b3ULL;
  ps->h_base = c == '/' ? 0xcbf29ce484222325ULL : (ps->h_base ^ c) * 0x100000001b3ULL;
  return 0;
}

/* FNV-1a 64 of ps->tail[0..len) and of its last component (same function as user space). */
static __always_inline void hash_tail(struct policy_scratch *ps, __u32 len, __u64 *full,
                                      __u64 *base) {
  ps->h_full = ps->h_base = 0xcbf29ce484222325ULL;
  ps->h_len = len;
  bpf_loop(REIN_PATH_KEY, hash_step, NULL, 0);
  *full = ps->h_full;
  *base = ps->h_base;
}

/* Matches the path at s->rec[off..off+len) against the file rules for op. */
static __noinline int match_file(struct scratch *s, __u32 off, __u32 len, __u32 op,
                                 struct rein_rule *out) {
  if (!cfg.file_rules || len == 0) return 0;
  struct policy_scratch *ps = get_policy_scratch();
  if (!ps) return 0;
  __u64 scope = scope_bit(bpf_get_current_pid_tgid() >> 32);
  __u32 n = len < REIN_PATH_KEY ? len : REIN_PATH_KEY;
  __builtin_memset(ps->pkey.path, 0, sizeof(ps->pkey.path));
  bpf_probe_read_kernel(ps->pkey.path, n & (REIN_PATH_KEY * 2 - 1), &s->rec[off & REIN_REC_MASK]);
  ps->pkey.prefixlen = n * 8;
  struct rein_rule_set *pset = bpf_map_lookup_elem(&policy_fpath, &ps->pkey);
  /* the last component: hash the final (up to) 256 bytes */
  __u32 start = len > REIN_PATH_KEY ? len - REIN_PATH_KEY : 0;
  bpf_probe_read_kernel(ps->tail, n & (REIN_PATH_KEY * 2 - 1), &s->rec[(off + start) & REIN_REC_MASK]);
  __u64 full, base;
  hash_tail(ps, n, &full, &base);
  struct rein_rule_set *bset = bpf_map_lookup_elem(&policy_fbase, &base);
  /* both sources decide together: an allowed "**\/NAME" satisfies a list whose catch-all
   * is a prefix entry, and the most severe rule of either wins */
  return decide_sets(ps, pset, bset, scope, op, len, out);
}

/* `path` (len bytes, kernel memory: a record being built, or a copied string) against the
 * exec rules. A program with no name on disk (REIN_F_FILELESS: its path is a memfd's
 * "/memfd:NAME", whose basename no rule names) is judged by the `exec: {fileless: true}`
 * rules in place of basename rules: one evaluation, not a second call (which cost the
 * verifier most of a second at start). */
static __noinline int match_exec(const void *path, __u32 len, __u32 tgid, struct rein_rule *out,
                                 bool fileless) {
  if (!cfg.exec_rules || len == 0) return 0;
  struct policy_scratch *ps = get_policy_scratch();
  if (!ps) return 0;
  __u32 n = len < REIN_PATH_KEY ? len : REIN_PATH_KEY;
  /* A longer path is hashed by its last bytes, where its basename is; no rule names it
   * whole (rule paths are at most REIN_PATH_KEY bytes). */
  __u32 start = (len - n) & REIN_REC_MASK;
  bpf_probe_read_kernel(ps->tail, n & (REIN_PATH_KEY * 2 - 1), (const char *)path + start);
  __u64 full, base;
  hash_tail(ps, n, &full, &base);
  if (start) full = 0;
  if (fileless) base = REIN_EXEC_FILELESS_HASH;
  /* rules on the full path and on the basename decide together: the most severe wins;
   * exec rules carry every op bit */
  return decide_sets(ps, bpf_map_lookup_elem(&policy_exec, &full),
                     bpf_map_lookup_elem(&policy_exec, &base), scope_bit(tgid), 0, len, out);
}

static struct learn_scratch *get_learn_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&learn_scratch_map, &zero);
}

/* A DNS answer named a host with rules: keeps those that apply to the asker (scope) for
 * policy_learn_addr. Returns 0 when none does. */
static __always_inline int policy_learn_begin(__u64 hash, __u64 scope) {
  struct rein_rule_set *h = bpf_map_lookup_elem(&policy_hosts, &hash);
  struct learn_scratch *ls = get_learn_scratch();
  if (!h || !ls) return 0;
  __u32 m = 0;
  for (int i = 0; i < REIN_RULESET_MAX; i++) {
    if ((__u32)i >= h->n) break;
    if (!(h->r[i].scope & scope)) continue;
    ls->host.r[m & (REIN_RULESET_MAX - 1)] = h->r[i];
    m++;
  }
  ls->host.n = m;
  return m > 0;
}

/* Adds the host's rules to an answered address: the set that already covers the address
 * (CIDR rules, allow-list catch-alls, earlier learned names) is copied and the host rules
 * merged in, so a learned address never hides a deny or a catch-all. Returns 0 when the
 * map was updated. */
/* rein_set_add (rule_eval.h) in callbacks, state in the map: its loops, unrolled in one
 * program, made the verifier walk every set size and victim separately. */
static long learn_dedupe_step(__u32 i, void *unused) {
  struct learn_scratch *ls = get_learn_scratch();
  if (!ls || i >= ls->merged.n) return 1;
  if (rein_rule_same_entry(&ls->merged.r[i & (REIN_RULESET_MAX - 1)], &ls->add)) {
    ls->dup = 1;
    return 1;
  }
  return 0;
}

static long learn_victim_step(__u32 i, void *unused) {
  struct learn_scratch *ls = get_learn_scratch();
  if (!ls) return 1;
  const struct rein_rule *r = &ls->merged.r[i & (REIN_RULESET_MAX - 1)];
  if (rein_rule_is_catch_all(r)) return 0;
  int sev = rein_severity(r->action);
  if (sev < ls->victim_sev) {
    ls->victim = i;
    ls->victim_sev = sev;
  }
  return 0;
}

static long learn_merge_step(__u32 i, void *unused) {
  struct learn_scratch *ls = get_learn_scratch();
  if (!ls || i >= ls->host.n) return 1;
  ls->add = ls->host.r[i & (REIN_RULESET_MAX - 1)];
  ls->dup = 0;
  bpf_loop(REIN_RULESET_MAX, learn_dedupe_step, NULL, 0);
  if (ls->dup) return 0;
  __u32 n = ls->merged.n;
  if (n < REIN_RULESET_MAX) {
    ls->merged.r[n & (REIN_RULESET_MAX - 1)] = ls->add;
    ls->merged.n = n + 1;
    return 0;
  }
  /* full: a deny/pause replaces the least severe plain entry below it (never a catch-all) */
  ls->victim = -1;
  ls->victim_sev = rein_severity(ls->add.action);
  if (ls->victim_sev < 2) return 0;
  bpf_loop(REIN_RULESET_MAX, learn_victim_step, NULL, 0);
  __s32 v = ls->victim;
  if (v >= 0) ls->merged.r[v & (REIN_RULESET_MAX - 1)] = ls->add;
  return 0;
}

static __noinline int policy_learn_addr(struct rein_net_key *k) {
  struct learn_scratch *ls = get_learn_scratch();
  if (!ls) return -1;
  struct rein_rule_set *cur = bpf_map_lookup_elem(&policy_net, k);
  if (cur)
    ls->merged = *cur;
  else
    __builtin_memset(&ls->merged, 0, sizeof(ls->merged));
  if (ls->merged.n > REIN_RULESET_MAX) ls->merged.n = REIN_RULESET_MAX;
  /* a callback: the merge loop is verified once, not once per host rule */
  bpf_loop(REIN_RULESET_MAX, learn_merge_step, NULL, 0);
  return bpf_map_update_elem(&policy_net, k, &ls->merged, BPF_ANY) == 0 ? 0 : -1;
}

/* Network: budgets first (an agent over budget may not reach LLM endpoints), then rules.
 * Returns 0 to refuse the call (EPERM), 1 to let it through. */
static __always_inline int net_policy(struct bpf_sock_addr *ctx, int v6, __u16 hook) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (!is_tracked(tgid) || (!cfg.net_rules && !cfg.blocked_agents)) return 1;
  struct rein_endpoint ep = {};
  if (v6) {
    __u32 a[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
    __builtin_memcpy(ep.addr, a, 16);
  } else {
    __u32 a4 = ctx->user_ip4;
    ep.addr[10] = 0xff;
    ep.addr[11] = 0xff;
    __builtin_memcpy(&ep.addr[12], &a4, 4);
  }
  ep.port = bpf_ntohs(ctx->user_port);
  __u32 budget = 0, rule = 0;
  __u8 action = REIN_ACT_NONE;
  if (cfg.blocked_agents) {
    __u32 agent = agent_of(tgid);
    __u32 *b = bpf_map_lookup_elem(&blocked_agents, &agent);
    if (b && bpf_map_lookup_elem(&llm_endpoints, &ep)) {
      budget = *b;
      action = REIN_ACT_DENY;
    }
  }
  if (action == REIN_ACT_NONE && cfg.net_rules) {
    struct rein_net_key k = {.prefixlen = 128};
    __builtin_memcpy(k.addr, ep.addr, 16);
    struct rein_rule_set *set = bpf_map_lookup_elem(&policy_net, &k);
    struct policy_scratch *ps = get_policy_scratch();
    if (set && ps) {
      ps->q.scope = scope_bit(tgid);
      ps->q.op = 0;
      ps->q.path_len = 0;
      ps->q.port = ep.port;
      eval_sets(ps, set, NULL);
      rule = ps->st.rule;
      action = ps->st.action;
    }
  }
  if (action == REIN_ACT_NONE) return 1;
  struct rein_policy_net e = {};
  fill_hdr(&e.h, REIN_REC_POLICY_NET, sizeof(e));
  e.rule = rule;
  e.action = action;
  /* pause cannot hold a connect in a cgroup hook: it refuses, like deny */
  e.outcome = action == REIN_ACT_AUDIT ? REIN_OUT_AUDITED : REIN_OUT_PREVENTED;
  e.port = ep.port;
  __builtin_memcpy(e.addr, ep.addr, 16);
  e.family = v6 ? 10 : 2;
  e.hook = hook;
  e.budget = budget;
  emit_urgent(&e, sizeof(e));
  return action == REIN_ACT_AUDIT ? 1 : 0;
}

#endif
