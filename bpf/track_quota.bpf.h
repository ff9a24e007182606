/* Each agent's share of the `tracked` table, and entries that outlived their process.
 *
 * `tracked` is shared by every agent: one agent forking without end would fill it and
 * leave the others' children untracked. Each agent (root pid + start time, so a reused root
 * pid starts afresh) may have at most `track_quota` members; further children run
 * untracked and are counted (REIN_CTR_TRACK_QUOTA, and per agent for sensor.health).
 *
 * An entry inserted by user space (argv selectors match there) for a process that exited
 * before the insert never sees its exit: a later process given the same pid would inherit
 * the agent's policy. Every process starts at a fork, so a fork whose child pid already has
 * an entry, under a parent that is not its agent's member, drops it there. */
#ifndef REIN_TRACK_QUOTA_BPF_H
#define REIN_TRACK_QUOTA_BPF_H

#include "common.bpf.h"

/* Members an agent may have in `tracked`; 0 = no quota. Set by user space (--track-quota). */
__u32 track_quota = 16384;

struct track_quota_key {
  __u32 agent;
  __u32 _pad;
  __u64 agent_start_ns;
};
struct track_quota_val {
  __u64 members;
  __u64 refused; /* children left untracked because the agent was at its quota */
};
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct track_quota_key);
  __type(value, struct track_quota_val);
} track_counts SEC(".maps");

/* True if one more member of t's agent may be tracked (and counts it). An agent whose
 * counter cannot be stored (4096 live agents) is not limited rather than not tracked. */
static __always_inline bool track_admit(const struct rein_tracked *t) {
  struct track_quota_key k = {.agent = t->agent, .agent_start_ns = t->agent_start_ns};
  struct track_quota_val *v = bpf_map_lookup_elem(&track_counts, &k);
  if (!v) {
    struct track_quota_val nv = {.members = 1};
    bpf_map_update_elem(&track_counts, &k, &nv, BPF_NOEXIST);
    return true;
  }
  __u32 quota = track_quota;
  if (quota && v->members >= quota) {
    __sync_fetch_and_add(&v->refused, 1);
    count(REIN_CTR_TRACK_QUOTA);
    return false;
  }
  __sync_fetch_and_add(&v->members, 1);
  return true;
}

/* A member of t's agent leaves `tracked`. */
static __always_inline void track_release(const struct rein_tracked *t) {
  struct track_quota_key k = {.agent = t->agent, .agent_start_ns = t->agent_start_ns};
  struct track_quota_val *v = bpf_map_lookup_elem(&track_counts, &k);
  if (!v) return;
  /* the last member gone: the agent is over; its refusals stay in the kernel counter */
  if (__sync_fetch_and_add(&v->members, -1) <= 1) bpf_map_delete_elem(&track_counts, &k);
}

/* Removes tgid's entry (and bit) whatever its state: the process it was made for is gone. */
static __always_inline void track_forget(__u32 tgid) {
  struct rein_tracked *t = bpf_map_lookup_elem(&tracked, &tgid);
  if (t) {
    track_release(t);
    bpf_map_delete_elem(&tracked, &tgid);
    tracked_changed();
  }
  clear_tracked_bit(tgid);
}

#endif
