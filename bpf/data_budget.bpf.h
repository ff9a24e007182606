/* Payload records have their own ring (data_events), so a flood of captured bytes can never
 * crowd out the records enforcement acts on (exec, file, connect, DNS, policy: `events`).
 * Inside the data ring each agent draws from its own token bucket, so one agent streaming
 * through its TLS library cannot starve the capture of the others. A call that does not fit
 * the bucket is skipped whole (its stream offsets still advance: user space sees the gap)
 * and counted as drop_data_budget. */
#ifndef REIN_DATA_BUDGET_BPF_H
#define REIN_DATA_BUDGET_BPF_H

#include "common.bpf.h"

struct agent_bucket {
  __u64 tokens; /* bytes */
  __u64 last_ns;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32); /* agent root pid */
  __type(value, struct agent_bucket);
} agent_buckets SEC(".maps");

/* Takes `bytes` from the bucket of `agent` (agent_of the caller); false when the agent is
 * over its budget. Two threads of one agent may race on the bucket: the budget is
 * approximate, never unbounded. */
static __always_inline bool data_budget_take(__u32 agent, __u64 bytes) {
  __u64 rate = (__u64)cfg.data_rate_kib * 1024;
  if (!rate) return true;
  __u64 burst = (__u64)cfg.data_burst_kib * 1024;
  if (burst < rate) burst = rate;
  __u64 now = bpf_ktime_get_boot_ns();
  struct agent_bucket *b = bpf_map_lookup_elem(&agent_buckets, &agent);
  if (!b) {
    struct agent_bucket init = {.tokens = burst, .last_ns = now};
    bpf_map_update_elem(&agent_buckets, &agent, &init, BPF_NOEXIST);
    b = bpf_map_lookup_elem(&agent_buckets, &agent);
    if (!b) return true; /* map trouble must not blind us: capture */
  }
  __u64 elapsed = now > b->last_ns ? now - b->last_ns : 0;
  /* refill; elapsed is capped so the multiplication cannot overflow */
  if (elapsed > 10ULL * 1000000000ULL) elapsed = 10ULL * 1000000000ULL;
  __u64 tokens = b->tokens + elapsed * (rate / 1024) / (1000000000ULL / 1024);
  if (tokens > burst) tokens = burst;
  b->last_ns = now;
  if (tokens < bytes) {
    b->tokens = tokens;
    count(REIN_CTR_DROP_DATA_BUDGET);
    return false;
  }
  b->tokens = tokens - bytes;
  return true;
}

#endif
