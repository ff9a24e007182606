/* Helpers shared by every hook family. */
#ifndef REIN_COMMON_BPF_H
#define REIN_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "maps.bpf.h"

#define AT_FDCWD -100

/* A kernel object's fields read with plain loads instead of one bpf_probe_read_kernel call
 * each: the verifier turns bpf_rdonly_cast (a kfunc) into a register move and marks the
 * result read-only and untrusted, so every load through it is fault-checked and reads 0
 * from a bad address, as a failed probe read leaves 0. The dentry walk of every tracked
 * open makes a dozen such reads. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KREAD_PTR(type, p) \
  ((type *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(type)))
#define REIN_PATH_MASK (REIN_PATH_MAX - 1)

static __always_inline void count(__u32 idx) {
  __u64 *v = bpf_map_lookup_elem(&counters, &idx);
  if (v) *v += 1;
}

static __always_inline struct scratch *get_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&scratch_map, &zero);
}

/* Word index of a tgid in tracked_bits. The empty asm stops clang from folding the mask
 * into a computation the verifier cannot bound. */
static __always_inline __u32 BIT_WORD(__u32 tgid) {
  __u32 w = tgid >> 6;
  asm volatile("" : "+r"(w));
  return w & (REIN_MAX_PID / 64 - 1);
}

/* One bit per tgid in a .bss bitmap of REIN_MAX_PID bits (tracked, candidates, open-file
 * owners). Set and clear test first: an atomic on a shared word costs more than a load. */
static __always_inline bool pid_bit(const __u64 *bits, __u32 tgid) {
  if (tgid >= REIN_MAX_PID) return false;
  return (bits[BIT_WORD(tgid)] >> (tgid & 63)) & 1;
}

static __always_inline void set_pid_bit(__u64 *bits, __u32 tgid) {
  if (tgid < REIN_MAX_PID && !pid_bit(bits, tgid))
    __sync_fetch_and_or(&bits[BIT_WORD(tgid)], 1ULL << (tgid & 63));
}

static __always_inline void clear_pid_bit(__u64 *bits, __u32 tgid) {
  if (tgid < REIN_MAX_PID && pid_bit(bits, tgid))
    __sync_fetch_and_and(&bits[BIT_WORD(tgid)], ~(1ULL << (tgid & 63)));
}

static __always_inline bool is_tracked(__u32 tgid) {
  if (tgid >= REIN_MAX_PID) return false;
  return (tracked_bits[BIT_WORD(tgid)] >> (tgid & 63)) & 1;
}

static __always_inline void set_tracked_bit(__u32 tgid) {
  if (tgid < REIN_MAX_PID) __sync_fetch_and_or(&tracked_bits[BIT_WORD(tgid)], 1ULL << (tgid & 63));
}

static __always_inline void clear_tracked_bit(__u32 tgid) {
  if (tgid < REIN_MAX_PID)
    __sync_fetch_and_and(&tracked_bits[BIT_WORD(tgid)], ~(1ULL << (tgid & 63)));
}

/* open_files (maps.bpf.h): the slots a file may sit in, probed in order. */
static __always_inline __u32 open_slot_base(__u64 fid) {
  return (__u32)((fid * 0x9E3779B97F4A7C15ull) >> 50);
}

static __always_inline struct open_file_val *open_file_slot(__u32 base, __u32 i) {
  __u32 k = (base + i) & (REIN_OPEN_SLOTS - 1);
  return bpf_map_lookup_elem(&open_files, &k);
}

static __always_inline struct open_file_val *open_file_find(__u64 fid) {
  if (!fid) return NULL;
  __u32 base = open_slot_base(fid);
#pragma unroll
  for (__u32 i = 0; i < REIN_OPEN_PROBES; i++) {
    struct open_file_val *v = open_file_slot(base, i);
    if (v && v->fid == fid) return v;
  }
  return NULL;
}

/* Publishes a slot the caller filled in after open_file_claim: the empty asm keeps the
 * compiler from moving the counters' stores after it, and x86 keeps stores in order, so a
 * reader that finds `fid` sees them. */
static __always_inline void open_file_publish(struct open_file_val *v, __u64 fid) {
  asm volatile("" ::: "memory");
  *(volatile __u64 *)&v->fid = fid;
}

/* A free slot for fid, marked busy (no reader matches it) until open_file_publish; NULL
 * when all of its probe slots are taken. */
static __always_inline struct open_file_val *open_file_claim(__u64 fid) {
  __u32 base = open_slot_base(fid);
#pragma unroll
  for (__u32 i = 0; i < REIN_OPEN_PROBES; i++) {
    struct open_file_val *v = open_file_slot(base, i);
    if (v && v->fid == 0 && __sync_val_compare_and_swap(&v->fid, 0, fid | REIN_OPEN_BUSY) == 0)
      return v;
  }
  return NULL;
}

static __always_inline void open_file_release(struct open_file_val *v) {
  *(volatile __u64 *)&v->fid = 0;
}

/* A process that claimed an open_files slot (maps.bpf.h, open_owner_bits). */
static __always_inline bool is_open_owner(__u32 tgid) { return pid_bit(open_owner_bits, tgid); }
static __always_inline void set_open_owner(__u32 tgid) { set_pid_bit(open_owner_bits, tgid); }
static __always_inline void clear_open_owner(__u32 tgid) { clear_pid_bit(open_owner_bits, tgid); }

/* The per-thread slot of an array map indexed by thread id (pending syscalls, TLS calls in
 * flight, ...): an array lookup needs no insert or delete on the hot path. */
static __always_inline void *thread_slot(void *array_map, __u32 tid) {
  __u32 idx = tid & (REIN_PENDING_SLOTS - 1);
  return bpf_map_lookup_elem(array_map, &idx);
}

static __always_inline bool is_candidate(__u32 tgid) { return pid_bit(cand_bits, tgid); }
static __always_inline void set_candidate_bit(__u32 tgid) { set_pid_bit(cand_bits, tgid); }
static __always_inline void clear_candidate_bit(__u32 tgid) { clear_pid_bit(cand_bits, tgid); }

/* After any update or delete of a `tracked` entry. */
static __always_inline void tracked_changed(void) {
  __sync_fetch_and_add(&tracked_gen, 1);
}

/* The agent of tgid (0: none), from this CPU's last answer when nothing in `tracked` has
 * changed since it was looked up. The generation is read before the lookup, so an answer
 * is never newer-stamped than what it saw; the entry is stamped 0 while it is rewritten and
 * read between two loads of its stamp, so a program that wrote it half-way before another
 * one on this CPU ran (preempted, or a nested program) leaves no mixed entry behind.
 * A global function: verified once, where inlined into every record's header its two
 * paths added 0.4 s to the verifier's work at start. */
__noinline __u32 agent_of(__u32 tgid) {
  __u32 zero = 0;
  struct agent_cache *c = bpf_map_lookup_elem(&agent_cache_map, &zero);
  const __u64 gen = *(volatile __u64 *)&tracked_gen;
  if (c) {
    const __u64 seen = *(volatile __u64 *)&c->gen;
    const __u64 v = *(volatile __u64 *)&c->tgid_agent;
    asm volatile("" ::: "memory");
    if (seen == gen && (__u32)(v >> 32) == tgid && *(volatile __u64 *)&c->gen == seen)
      return (__u32)v;
  }
  struct rein_tracked *t = bpf_map_lookup_elem(&tracked, &tgid);
  const __u32 agent = t ? t->agent : 0;
  if (c) {
    *(volatile __u64 *)&c->gen = 0;
    asm volatile("" ::: "memory");
    *(volatile __u64 *)&c->tgid_agent = ((__u64)tgid << 32) | agent;
    asm volatile("" ::: "memory");
    *(volatile __u64 *)&c->gen = gen;
  }
  return agent;
}

/* The caller's uid as bpf_get_current_uid_gid gives it (the kernel uid, as seen from the
 * initial user namespace), read from the task's credentials: two loads instead of a helper
 * that also maps the id through the namespace, on every record. */
static __always_inline __u32 current_uid(void) {
  struct task_struct *task = KREAD_PTR(struct task_struct, bpf_get_current_task());
  return KREAD_PTR(struct cred, task->cred)->uid.val;
}

/* For a caller that already looked the agent up (the TLS data path), so it is not looked up
 * twice per record. */
static __always_inline void fill_hdr_id(struct rein_hdr *h, __u16 kind, __u32 size, __u32 agent,
                                        __u64 id) {
  h->kind = kind;
  h->abi = REIN_ABI_VERSION;
  h->size = size;
  h->ts_ns = bpf_ktime_get_boot_ns();
  h->pid = (__u32)id;
  h->tgid = id >> 32;
  h->agent = agent;
  h->uid = current_uid();
}

static __always_inline void fill_hdr_agent(struct rein_hdr *h, __u16 kind, __u32 size,
                                           __u32 agent) {
  fill_hdr_id(h, kind, size, agent, bpf_get_current_pid_tgid());
}

static __always_inline void fill_hdr(struct rein_hdr *h, __u16 kind, __u32 size) {
  __u64 id = bpf_get_current_pid_tgid();
  fill_hdr_id(h, kind, size, agent_of(id >> 32), id);
}

/* Wake the reader only once this much is waiting: a wakeup per record costs more than the
 * record. The reader's poll timeout bounds the latency of a quiet ring. */
#define REIN_WAKEUP_BYTES (64 * 1024)

/* Wake when this record takes the backlog across a multiple of REIN_WAKEUP_BYTES, not for
 * every record while the backlog is above it: each forced wakeup raises an irq_work
 * (a self-IPI, a VM exit on this host), and while the reader is busy delivering the last
 * batch every record found the backlog over the mark (a third of a tracked open/write/close
 * loop's time went there). A crossing missed by two CPUs racing is caught at the next one;
 * an epoll reader stays ready while data is left, so one wakeup per batch is enough. */
static __always_inline __u64 wake_flags(void *ring, __u64 size) {
  __u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
  return (avail / REIN_WAKEUP_BYTES) != ((avail + size + 8) / REIN_WAKEUP_BYTES)
             ? BPF_RB_FORCE_WAKEUP
             : BPF_RB_NO_WAKEUP;
}

static __always_inline void emit_flags(void *rec, __u64 size, __u64 flags) {
  if (bpf_ringbuf_output(&events, rec, size, flags) == 0)
    count(REIN_CTR_RECORDS);
  else
    count(REIN_CTR_DROP_CONTROL_RING);
}

/* Copies a record to the ring; `size` must already be bounded by the caller. */
static __always_inline void emit(void *rec, __u64 size) {
  emit_flags(rec, size, wake_flags(&events, size));
}

/* Payload records go to their own ring (see data_budget.bpf.h). */
static __always_inline void emit_data(void *rec, __u64 size) {
  if (bpf_ringbuf_output(&data_events, rec, size, wake_flags(&data_events, size)) == 0)
    count(REIN_CTR_RECORDS);
  else
    count(REIN_CTR_DROP_RINGBUF);
}

/* For records user space must act on quickly (argv matching, DNS answers that feed hostname
 * rules, policy decisions): wake the reader now. */
static __always_inline void emit_urgent(void *rec, __u64 size) {
  emit_flags(rec, size, BPF_RB_FORCE_WAKEUP);
}

#endif
