/* How a set of kernel rules decides one connect or one file operation.
 *
 * Shared verbatim by the BPF programs (bpf/policy.bpf.h) and user space (the compiler's tests,
 * the reference fuzzer, merging learned addresses), so the model user space checks is the
 * code the kernel runs. Plain C, no libc, every loop bounded by REIN_RULESET_MAX.
 *
 * Every trie leaf (a CIDR or a path prefix) stores the set of ALL rules whose prefix covers
 * the leaf's prefix, so the longest-prefix lookup returns every rule that covers the address
 * or path: any covering prefix is nested with the longest matching leaf. A rule with a
 * narrower prefix therefore never hides a broader one.
 *
 * Semantics over the rules of one lookup (one or more sets):
 *  - a deny/pause/audit rule whose scope, ops, ports (and, for exact paths, length) match is a
 *    candidate;
 *  - allow-list entries (action NONE, list != 0) that match mark their list satisfied;
 *  - a catch-all (action != NONE, list != 0) whose scope and ops match is a candidate with
 *    its `otherwise` action unless its list was satisfied;
 *  - the result is the most severe candidate: deny > pause > audit, ties: lowest rule index. */
#ifndef REIN_ABI_RULE_EVAL_H
#define REIN_ABI_RULE_EVAL_H

#include "events.h"

#define REIN_RULESET_MAX 16

struct rein_rule_set {
  __u32 n;
  __u32 _pad;
  struct rein_rule r[REIN_RULESET_MAX];
};

/* What is looked up: the process's scope bit, and port (network) or op + path length (files:
 * port 0, exact entries need path_len == prefix_len). */
struct rein_eval_query {
  __u64 scope;
  __u32 op;
  __u32 path_len;
  __u16 port;
  __u16 _pad0;
  __u32 _pad1;
};

/* The running decision; start from rein_eval_init. */
struct rein_eval_state {
  __u64 satisfied; /* bit (list - 1): an allow entry of that list matched */
  __u32 rule;
  __u8 action; /* REIN_ACT_NONE: no candidate yet */
  __u8 _pad[3];
};

static inline void rein_eval_init(struct rein_eval_state *st) {
  st->satisfied = 0;
  st->rule = 0;
  st->action = REIN_ACT_NONE;
  st->_pad[0] = st->_pad[1] = st->_pad[2] = 0;
}

/* deny 3 > pause 2 > audit 1 > none 0 */
static inline int rein_severity(__u8 action) {
  return action == REIN_ACT_DENY    ? 3
         : action == REIN_ACT_PAUSE ? 2
         : action == REIN_ACT_AUDIT ? 1
                                    : 0;
}

/* One rule's network entries differ only in their key: rule + action identify them (a list's
 * catch-all and its allowed entries share the rule index). */
static inline int rein_rule_same_entry(const struct rein_rule *a, const struct rein_rule *b) {
  return a->rule == b->rule && a->action == b->action && a->exact == b->exact &&
         a->prefix_len == b->prefix_len;
}

static inline int rein_rule_is_catch_all(const struct rein_rule *r) {
  return r->list && r->action != REIN_ACT_NONE;
}

static inline int rein_rule_matches(const struct rein_rule *r, const struct rein_eval_query *q) {
  if (!(r->scope & q->scope)) return 0;
  if (q->op >= 32 || !(r->ops & (1u << q->op))) return 0;
  if (r->exact && r->prefix_len != q->path_len) return 0;
  if (!r->nports) return 1;
  for (int i = 0; i < REIN_RULE_PORTS; i++) {
    if (i >= r->nports) break;
    if (q->port >= r->ports[i][0] && q->port <= r->ports[i][1]) return 1;
  }
  return 0;
}

static inline void rein_eval_offer(struct rein_eval_state *st, __u8 action, __u32 rule) {
  int s = rein_severity(action), cur = rein_severity(st->action);
  if (s > cur || (s == cur && s > 0 && rule < st->rule)) {
    st->action = action;
    st->rule = rule;
  }
}

/* Pass 1 for one entry: plain rules are candidates, allowed entries satisfy their list.
 * The BPF programs call the steps from bpf_loop callbacks (verified once, not once per
 * entry); user space through the loops below. */
static inline void rein_eval_rule_step(const struct rein_rule *r, const struct rein_eval_query *q,
                                       struct rein_eval_state *st) {
  if (rein_rule_is_catch_all(r) || !rein_rule_matches(r, q)) return;
  if (r->action == REIN_ACT_NONE) {
    if (r->list >= 1 && r->list <= 64) st->satisfied |= 1ULL << ((r->list - 1) & 63);
  } else {
    rein_eval_offer(st, r->action, r->rule);
  }
}

/* Pass 2 for one entry, after pass 1 saw every set: the catch-all of a list nothing
 * satisfied is a candidate with its `otherwise` action. */
static inline void rein_eval_otherwise_step(const struct rein_rule *r,
                                            const struct rein_eval_query *q,
                                            struct rein_eval_state *st) {
  if (!rein_rule_is_catch_all(r)) return;
  if (r->list <= 64 && (st->satisfied & (1ULL << ((r->list - 1) & 63)))) return;
  if (rein_rule_matches(r, q)) rein_eval_offer(st, r->action, r->rule);
}

/* Pass 1 over one set; run it over every set of the lookup before pass 2. */
static inline void rein_eval_rules(const struct rein_rule_set *set, const struct rein_eval_query *q,
                                   struct rein_eval_state *st) {
  for (int i = 0; i < REIN_RULESET_MAX; i++) {
    if ((__u32)i >= set->n) break;
    rein_eval_rule_step(&set->r[i], q, st);
  }
}

static inline void rein_eval_otherwise(const struct rein_rule_set *set,
                                       const struct rein_eval_query *q,
                                       struct rein_eval_state *st) {
  for (int i = 0; i < REIN_RULESET_MAX; i++) {
    if ((__u32)i >= set->n) break;
    rein_eval_otherwise_step(&set->r[i], q, st);
  }
}

static inline int rein_rule_same(const struct rein_rule *a, const struct rein_rule *b) {
  if (a->rule != b->rule || a->action != b->action || a->list != b->list || a->exact != b->exact ||
      a->prefix_len != b->prefix_len || a->scope != b->scope || a->ops != b->ops ||
      a->nports != b->nports)
    return 0;
  for (int i = 0; i < REIN_RULE_PORTS; i++)
    if (a->ports[i][0] != b->ports[i][0] || a->ports[i][1] != b->ports[i][1]) return 0;
  return 1;
}

/* Adds a learned rule (a host name's address) to the set that covered the address. Never
 * drops what makes the set stricter: when full, a deny/pause rule replaces an allow entry or
 * a less severe plain rule (dropping an allow entry only makes its catch-all fire; catch-alls
 * and denies are never replaced); an allow entry or audit rule that does not fit is dropped.
 * Returns 0 when added (or already there), 1 when it replaced an entry, -1 when dropped.
 * The BPF side runs these same steps as bpf_loop callbacks (policy_learn_addr in
 * bpf/policy.bpf.h): unrolled here, the verifier would walk every set size separately. */
static inline int rein_set_add(struct rein_rule_set *set, const struct rein_rule *add) {
  __u32 n = set->n;
  if (n > REIN_RULESET_MAX) n = set->n = REIN_RULESET_MAX;
  for (int i = 0; i < REIN_RULESET_MAX; i++) {
    if ((__u32)i >= n) break;
    if (rein_rule_same_entry(&set->r[i], add)) return 0;
  }
  if (n < REIN_RULESET_MAX) {
    set->r[n & (REIN_RULESET_MAX - 1)] = *add;
    set->n = n + 1;
    return 0;
  }
  int sev = rein_severity(add->action);
  if (sev < 2) return -1;
  int victim = -1, victim_sev = sev;
  for (int i = 0; i < REIN_RULESET_MAX; i++) {
    const struct rein_rule *r = &set->r[i];
    if (rein_rule_is_catch_all(r)) continue;
    int s = rein_severity(r->action);
    if (s < victim_sev) {
      victim = i;
      victim_sev = s;
    }
  }
  if (victim < 0) return -1;
  set->r[victim & (REIN_RULESET_MAX - 1)] = *add;
  return 1;
}

#endif
