/* Outcomes of non-blocking connects. Event loops (node, Go, asyncio) connect with O_NONBLOCK
 * and get EINPROGRESS; the result comes later as a TCP state change. TCP sockets a tracked
 * process connects are followed from the connect call: on loopback the handshake (or the RST)
 * is processed when connect releases the socket lock, before the syscall returns, so the
 * outcome may be known before we learn the call returned EINPROGRESS. Whichever of the two
 * (syscall exit, state change) comes second sends the record. */
#ifndef REIN_CONNECT_STATE_BPF_H
#define REIN_CONNECT_STATE_BPF_H

#include "common.bpf.h"
#include "path.bpf.h"

#define REIN_EINPROGRESS 115
#define REIN_ECONNABORTED 103
#define REIN_TCP_ESTABLISHED 1
#define REIN_TCP_SYN_SENT 2
#define REIN_TCP_CLOSE 7
#define REIN_S_IFMT 0170000
#define REIN_S_IFSOCK 0140000

#define FOLLOW_OUTCOME 1     /* the state change was seen */
#define FOLLOW_IN_PROGRESS 2 /* connect returned EINPROGRESS */

struct connect_follow {
  __u64 start_ns;
  __u64 done_ns;
  __u32 tgid, pid, agent, uid;
  __s32 fd;
  __s32 result;
  __u32 state;
  __u32 flags; /* FOLLOW_*, set atomically: exactly one side sees the other's bit */
};

/* struct sock * -> the connect being followed. Bounded: a full map is counted
 * (REIN_CTR_CONNECT_PENDING_FULL) and that connect is reported as EINPROGRESS only. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct connect_follow);
} connect_follows SEC(".maps");

/* sys_enter of connect by a tracked process: follow its TCP socket. Returns the sock (map
 * key) or 0 when not followed. */
static __always_inline __u64 connect_follow_enter(__s32 fd) {
  struct file *f = fd_file(fd);
  if (!f) return 0;
  __u16 mode = KREAD_PTR(struct file, f)->f_inode->i_mode;
  if ((mode & REIN_S_IFMT) != REIN_S_IFSOCK) return 0;
  struct socket *sock = BPF_CORE_READ(f, private_data);
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk) return 0;
  __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
  if ((fam != 2 && fam != 10) || BPF_CORE_READ(sk, sk_protocol) != 6 /* TCP */) return 0;
  __u64 key = (__u64)sk, id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  struct connect_follow v = {.start_ns = bpf_ktime_get_boot_ns(), .tgid = tgid, .pid = (__u32)id,
                             .agent = agent_of(tgid), .uid = (__u32)bpf_get_current_uid_gid(),
                             .fd = fd};
  /* a repeated connect (EALREADY) must not reset the one being followed; an entry whose
   * outcome came but whose syscall never returned (the thread was killed) is stale */
  long err = bpf_map_update_elem(&connect_follows, &key, &v, BPF_NOEXIST);
  if (err == -17 /* EEXIST */) {
    struct connect_follow *old = bpf_map_lookup_elem(&connect_follows, &key);
    if (!old || (old->tgid == tgid && old->fd == fd && !(old->flags & FOLLOW_OUTCOME))) return 0;
    err = bpf_map_update_elem(&connect_follows, &key, &v, BPF_ANY);
  }
  if (err) {
    count(REIN_CTR_CONNECT_PENDING_FULL);
    return 0;
  }
  return key;
}

static __always_inline void connect_follow_emit(__u64 key, struct connect_follow *v) {
  struct rein_connect_outcome o = {};
  o.h.kind = REIN_REC_CONNECT_OUTCOME;
  o.h.abi = REIN_ABI_VERSION;
  o.h.size = sizeof(o);
  o.h.ts_ns = v->done_ns;
  o.h.pid = v->pid;
  o.h.tgid = v->tgid;
  o.h.agent = v->agent;
  o.h.uid = v->uid;
  o.fd = v->fd;
  o.result = v->result;
  o.latency_ns = v->done_ns > v->start_ns ? v->done_ns - v->start_ns : 0;
  o.state = v->state;
  emit(&o, sizeof(o));
  bpf_map_delete_elem(&connect_follows, &key);
}

/* sys_exit of the connect (after its REIN_REC_CONNECT was sent). */
static __always_inline void connect_follow_exit(__u64 key, long ret) {
  if (!key) return;
  struct connect_follow *v = bpf_map_lookup_elem(&connect_follows, &key);
  if (!v) return;
  if (ret != -REIN_EINPROGRESS) { /* blocking, or failed at once: the result is in the record */
    bpf_map_delete_elem(&connect_follows, &key);
    return;
  }
  if (__sync_fetch_and_or(&v->flags, FOLLOW_IN_PROGRESS) & FOLLOW_OUTCOME)
    connect_follow_emit(key, v);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(rein_sock_state, const struct sock *sk, const int oldstate, const int newstate) {
  if (oldstate != REIN_TCP_SYN_SENT ||
      (newstate != REIN_TCP_ESTABLISHED && newstate != REIN_TCP_CLOSE))
    return 0;
  __u64 key = (__u64)sk;
  struct connect_follow *v = bpf_map_lookup_elem(&connect_follows, &key);
  if (!v) return 0;
  v->done_ns = bpf_ktime_get_boot_ns();
  v->state = newstate;
  if (newstate == REIN_TCP_ESTABLISHED) {
    v->result = 0;
  } else {
    /* sk_err is set before the state changes (tcp_done_with_error); none: closed by the
     * process itself before the handshake ended */
    int err = BPF_CORE_READ(sk, sk_err);
    v->result = err > 0 ? -err : -REIN_ECONNABORTED;
  }
  if (__sync_fetch_and_or(&v->flags, FOLLOW_OUTCOME) & FOLLOW_IN_PROGRESS)
    connect_follow_emit(key, v);
  return 0;
}

#endif
