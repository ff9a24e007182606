/* Policy decided in the kernel, with no round trip to user space:
 *  - network: cgroup connect/sendmsg hooks refuse the call (EPERM): prevention;
 *  - files: the resolved path is matched at sys_exit; deny = SIGKILL, pause = SIGSTOP (this
 *    kernel has no BPF-LSM, so the one syscall completes; the event says "killed"/"paused");
 *  - exec: matched at sched_process_exec, before the new image runs any of its code.
 * User space compiles the policy file into these maps (userspace/policy). */
#ifndef REIN_POLICY_BPF_H
#define REIN_POLICY_BPF_H

#include "common.bpf.h"

#define SIGKILL 9
#define SIGSTOP 19

/* File rules whose pattern is a plain prefix ("/root/.ssh/" followed by a double star) or
 * an exact path. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 4096);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rein_path_key);
  __type(value, struct rein_rule);
} policy_fpath SEC(".maps");

/* File rules of the form "**\/NAME": FNV-1a 64 of NAME. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct rein_rule);
} policy_fbase SEC(".maps");

/* Exec rules: FNV-1a 64 of an executable's full path or basename. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct rein_rule);
} policy_exec SEC(".maps");

/* Network rules: CIDRs over v4-mapped 16-byte addresses (hostname rules are compiled to the
 * addresses agents resolved). */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 16384);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rein_net_key);
  __type(value, struct rein_rule);
} policy_net SEC(".maps");

/* Host-name rules (exact names): FNV-1a 64 of the lower-cased name -> rule. Addresses in
 * DNS answers for these names become policy_net entries in the kernel, before the agent
 * that asked can read the answer and connect. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct rein_rule);
} policy_hosts SEC(".maps");

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

static __always_inline bool port_ok(const struct rein_rule *r, __u16 port) {
  if (!r->nports) return true;
  for (int i = 0; i < REIN_RULE_PORTS; i++) {
    if (i >= r->nports) break;
    if (port >= r->ports[i][0] && port <= r->ports[i][1]) return true;
  }
  return false;
}

/* Applies a matched file or exec rule to the current task; returns the outcome. */
static __always_inline __u8 enforce(__u8 action) {
  if (action == REIN_ACT_DENY) {
    bpf_send_signal(SIGKILL);
    return REIN_OUT_KILLED;
  }
  if (action == REIN_ACT_PAUSE) {
    bpf_send_signal(SIGSTOP);
    return REIN_OUT_PAUSED;
  }
  return REIN_OUT_AUDITED;
}

static struct policy_scratch *get_policy_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&policy_scratch_map, &zero);
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
  struct rein_rule *r = bpf_map_lookup_elem(&policy_fpath, &ps->pkey);
  if (r && (r->scope & scope) && (r->ops & (1u << op)) && (!r->exact || r->prefix_len == len)) {
    if (r->action == REIN_ACT_NONE) return 0; /* inside an allow-list: allowed */
    *out = *r;
    return 1;
  }
  /* the last component: hash the final (up to) 256 bytes */
  __u32 start = len > REIN_PATH_KEY ? len - REIN_PATH_KEY : 0;
  bpf_probe_read_kernel(ps->tail, n & (REIN_PATH_KEY * 2 - 1), &s->rec[(off + start) & REIN_REC_MASK]);
  __u64 full, base;
  hash_tail(ps, n, &full, &base);
  r = bpf_map_lookup_elem(&policy_fbase, &base);
  if (r && (r->scope & scope) && (r->ops & (1u << op))) {
    *out = *r;
    return 1;
  }
  return 0;
}

/* Exec rules against the executable's path (the first 256 bytes). */
static __noinline int match_exec(struct scratch *s, __u32 off, __u32 len, __u32 tgid,
                                 struct rein_rule *out) {
  if (!cfg.exec_rules || len == 0) return 0;
  struct policy_scratch *ps = get_policy_scratch();
  if (!ps) return 0;
  __u32 n = len < REIN_PATH_KEY ? len : REIN_PATH_KEY;
  bpf_probe_read_kernel(ps->tail, n & (REIN_PATH_KEY * 2 - 1), &s->rec[off & REIN_REC_MASK]);
  __u64 full, base;
  hash_tail(ps, n, &full, &base);
  __u64 scope = scope_bit(tgid);
  struct rein_rule *r = bpf_map_lookup_elem(&policy_exec, &full);
  if (!r || !(r->scope & scope)) r = bpf_map_lookup_elem(&policy_exec, &base);
  if (!r || !(r->scope & scope) || r->action == REIN_ACT_NONE) return 0;
  *out = *r;
  return 1;
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
    struct rein_rule *r = bpf_map_lookup_elem(&policy_net, &k);
    if (r && (r->scope & scope_bit(tgid)) && port_ok(r, ep.port)) {
      rule = r->rule;
      action = r->action;
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
