/* LLM traffic in plaintext: uprobes on TLS libraries (OpenSSL's SSL_read/SSL_write and
 * their _ex forms, GnuTLS's record send/recv) and plain HTTP on sockets of tracked
 * processes. Payload is copied for tracked processes only; untracked ones get a 64-byte
 * look at their first request on a connection when auto-discovery is on. */
#ifndef REIN_TLS_BPF_H
#define REIN_TLS_BPF_H

#include "process.bpf.h"
#include "data_budget.bpf.h"

#define TLS_COOKIE(source, dir, ex) ((source) | ((dir) << 8) | ((ex) << 16))

static __always_inline struct tls_call *tls_slot(__u32 tid) { return thread_slot(&tls_calls, tid); }

static __always_inline struct thread_sock *thread_sock_slot(__u32 tid) { return thread_slot(&thread_socks, tid); }

/* The socket this thread last read from, or -1. */
static __always_inline __s32 thread_last_fd(__u32 tid) {
  struct thread_sock *ts = thread_sock_slot(tid);
  return ts && ts->tid == tid ? ts->fd : -1;
}

/* The remote end of a connected socket, read once per stream. */
static __always_inline void learn_peer(struct conn_val *cv, __s32 fd) {
  if (cv->peer_family || fd < 0) return;
  struct file *f = fd_file(fd);
  if (!f) return;
  struct socket *sock = KREAD_PTR(struct file, f)->private_data;
  struct sock *sk = KREAD_PTR(struct socket, sock)->sk;
  if (!sk) return;
  __u16 fam = sk->__sk_common.skc_family;
  if (fam == 2) {
    __u32 a = sk->__sk_common.skc_daddr;
    __builtin_memcpy(cv->peer_addr, &a, 4);
  } else if (fam == 10) {
    BPF_CORE_READ_INTO(&cv->peer_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  } else {
    return;
  }
  cv->peer_port = bpf_ntohs(sk->__sk_common.skc_dport);
  cv->peer_family = fam;
}

/* One chunk of the copy described by s->ds. */
static long data_chunk(__u32 i, void *unused) {
  struct scratch *s = get_scratch();
  if (!s) return 1;
  struct data_state *ds = &s->ds;
  if (ds->done >= ds->total) return 1;
  __u64 n = ds->total - ds->done;
  if (n > REIN_DATA_CHUNK) n = REIN_DATA_CHUNK;
  struct rein_data *d = (struct rein_data *)s->rec;
  if (bpf_probe_read_user(s->rec + sizeof(*d), n & (2 * REIN_DATA_CHUNK - 1),
                          (void *)(ds->src + ds->done))) {
    count(REIN_CTR_DATA_READ_FAILED);
    return 1;
  }
  fill_hdr_agent(&d->h, REIN_REC_DATA, sizeof(*d) + n, ds->agent);
  d->conn = ds->conn;
  d->offset = ds->offset + ds->done;
  d->len = n;
  d->call_len = ds->total;
  d->fd = ds->fd;
  d->dir = ds->dir;
  d->source = ds->source;
  d->flags = ds->flags;
  d->peer_family = ds->peer_family;
  d->peer_port = ds->peer_port;
  d->_pad0 = 0;
  __builtin_memcpy(d->peer_addr, ds->peer_addr, 16);
  emit_data(d, (sizeof(*d) + n) & (4 * REIN_DATA_CHUNK - 1));
  ds->done += n;
  return 0;
}

/* Copies `len` bytes at user address `src` as chunks of the stream (tgid, conn, dir). */
static __noinline int emit_stream(struct scratch *s, struct conn_val *cv, __u64 src, __u64 len) {
  struct data_state *ds = &s->ds;
  ds->src = src;
  ds->total = len;
  ds->done = 0;
  ds->fd = cv->fd;
  learn_peer(cv, cv->fd);
  ds->peer_family = cv->peer_family;
  ds->peer_port = cv->peer_port;
  __builtin_memcpy(ds->peer_addr, cv->peer_addr, 16);
  __u8 dir = ds->dir & 1;
  if (cv->restarted) {
    ds->flags |= REIN_DF_NEW_CONN;
    cv->restarted = 0;
  }
  ds->offset = cv->off[dir];
  cv->off[dir] += len; /* advance by everything, copied or not: gaps stay visible */
  ds->agent = agent_of(bpf_get_current_pid_tgid() >> 32);
  if (!data_budget_take(ds->agent, len)) return 0;
  bpf_loop(REIN_DATA_MAX_CHUNKS, data_chunk, NULL, 0);
  if (ds->done < ds->total) count(REIN_CTR_DATA_TRUNCATED);
  return 0;
}

static __always_inline __u32 sock_ino(struct file *f) {
  return (__u32)KREAD_PTR(struct file, f)->f_inode->i_ino;
}

/* Starts `cv` afresh for the socket with inode `ino`, as if never seen. */
static __always_inline void conn_restart(struct conn_val *cv, __u32 ino) {
  __builtin_memset(cv, 0, sizeof(*cv));
  cv->fd = -1;
  cv->sock_ino = ino;
  cv->restarted = 1;
}

/* Streams are keyed by addresses that come back: a TLS object (SSL*) is freed and the next
 * one allocated in its place (Python's ssl does so for each new connection of a pool), and
 * so is a socket's struct file. Left alone, a stream runs on into the next connection's,
 * offsets, protocol guess and all, and one connection cut mid-message spoils the next. The
 * socket's inode number tells connections apart; a change starts the entry afresh and the
 * next chunk says so (REIN_DF_NEW_CONN). */
static __always_inline void conn_check_socket(struct conn_val *cv, struct file *f) {
  __u32 ino = sock_ino(f);
  if (!ino || ino == cv->sock_ino) return;
  if (cv->sock_ino) conn_restart(cv, ino);
  else cv->sock_ino = ino;
}

/* First plaintext of connection `cv` whose socket `fd` already sent more than a handshake:
 * the requests before it went out unseen (the hooks were attached mid-connection). */
static __always_inline __u16 late_flag(__u32 tgid, struct conn_val *cv, __s32 fd) {
  if (fd < 0 || cv->off[0] || cv->off[1]) return 0;
  struct file *f = fd_file(fd);
  if (!f) return 0;
  struct conn_key k = {.tgid = tgid, .conn = (__u64)f};
  struct conn_val *sv = bpf_map_lookup_elem(&conns, &k);
  return sv && sv->sock_ino == sock_ino(f) && sv->cipher_out >= REIN_LATE_CIPHER_BYTES
             ? REIN_DF_LATE
             : 0;
}

static __always_inline struct conn_val *conn_state(__u32 tgid, __u64 conn) {
  struct conn_key k = {.tgid = tgid, .conn = conn};
  struct conn_val *v = bpf_map_lookup_elem(&conns, &k);
  if (v) return v;
  struct conn_val init = {.fd = -1};
  bpf_map_update_elem(&conns, &k, &init, BPF_NOEXIST); /* may race another thread: fine */
  v = bpf_map_lookup_elem(&conns, &k);
  if (!v) count(REIN_CTR_CONN_FULL);
  return v;
}

/* Does this look like the start of a request to an LLM API? Cheap fixed prefixes: the
 * paths of the providers in docs/llm-accounting.md. User space confirms with the host. */
static __always_inline bool prefix(const char *buf, const char *p, int n) {
  for (int i = 0; i < n; i++)
    if (buf[i] != p[i]) return false;
  return true;
}
#define PFX(lit) prefix(b, lit, sizeof(lit) - 1)
static __always_inline bool llm_request_prefix(const char *b) {
  if (!PFX("POST /")) return false;
  b += 6;
  return PFX("v1/chat/completions") || PFX("v1/messages") || PFX("v1/responses") ||
         PFX("v1/completions") || PFX("v1/embeddings") || PFX("v1beta/models/") ||
         PFX("v1/models/") || PFX("v1/projects/") || PFX("api/chat") || PFX("api/generate") ||
         PFX("api/embed") || PFX("openai/") || PFX("model/") || PFX("chat/completions") ||
         PFX("v1beta/openai/");
}

/* Makes a running, untracked process the root of a new agent and sends its process record
 * at once (it may be gone by the time user space reads this). False if it is not tracked. */
static __noinline bool become_agent(__u32 tgid, __u32 flags) {
  struct rein_tracked t = {.agent = tgid, .selector = 0xffffffff,
                           .agent_start_ns = bpf_ktime_get_boot_ns()};
  if (bpf_map_update_elem(&tracked, &tgid, &t, BPF_NOEXIST)) return is_tracked(tgid);
  tracked_changed();
  set_tracked_bit(tgid);
  count(REIN_CTR_DISCOVERED);
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  emit_process(task, BPF_CORE_READ(task, mm, exe_file),
               REIN_F_NEW_AGENT | REIN_F_DISCOVERED | flags, 0xffffffff, NULL);
  return true;
}

/* Auto-discovery from a TLS library hook (only when those hooks are attached system wide:
 * --tls-discovery uprobe): an untracked process whose request starts like an LLM call
 * becomes the root of a new agent before its bytes are copied, so this very call is
 * captured. */
static __always_inline bool discover(struct scratch *s, __u32 tgid, __u64 conn, __u64 src,
                                     __u64 len, __u8 source) {
  if (!cfg.autodiscover || tgid == cfg.self_tgid || len < 16) return false;
  __builtin_memset(s->ustr, 0, 32);
  if (bpf_probe_read_user(s->ustr, REIN_DATA_PEEK, (void *)src)) return false;
  if (!llm_request_prefix(s->ustr)) return false;
  return become_agent(tgid, 0);
}

SEC("uprobe")
int BPF_KPROBE(rein_tls_enter, void *conn, void *buf, __u64 num, void *ex_len_ptr) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  __u32 cookie = bpf_get_attach_cookie(ctx);
  __u8 dir = (cookie >> 8) & 1;
  if (!is_tracked(tgid) && !(cfg.autodiscover && dir == REIN_DIR_EGRESS)) return 0;
  struct tls_call *c = tls_slot(tid);
  if (!c) return 0;
  c->tid = tid;
  c->conn = (__u64)conn;
  c->buf = (__u64)buf;
  c->ex_len_ptr = (__u64)ex_len_ptr;
  c->fd = -1;
  c->cookie = cookie;
  return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(rein_tls_exit, long ret) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  struct tls_call *cp = tls_slot(tid);
  if (!cp || cp->tid != tid) return 0;
  struct tls_call c = *cp;
  cp->tid = 0;
  __u8 source = c.cookie & 0xff, dir = (c.cookie >> 8) & 1, ex = (c.cookie >> 16) & 1;
  /* OpenSSL/BoringSSL return int: only the low 32 bits of rax are the result. GnuTLS: ssize_t. */
  if (source == REIN_SRC_OPENSSL || source == REIN_SRC_BORINGSSL) ret = (int)ret;
  __u64 n = 0;
  if (ex) {
    if (ret != 1) return 0;
    if (bpf_probe_read_user(&n, sizeof(n), (void *)c.ex_len_ptr)) return 0;
  } else {
    if (ret <= 0) return 0;
    n = ret;
  }
  if (!n) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  if (!is_tracked(tgid) && !discover(s, tgid, c.conn, c.buf, n, source)) return 0;
  struct conn_val *cv = conn_state(tgid, c.conn);
  if (!cv) return 0;
  if (c.fd >= 0) {
    struct file *f = fd_file(c.fd);
    if (f) conn_check_socket(cv, f);
    cv->fd = c.fd;
  } else if (cv->fd < 0 && dir == REIN_DIR_INGRESS)
    /* memory BIOs (Bun, node): the event loop read the socket on this thread just before */
    cv->fd = thread_last_fd(tid);
  s->ds.conn = c.conn;
  s->ds.dir = dir;
  s->ds.source = source;
  s->ds.flags = late_flag(tgid, cv, cv->fd);
  return emit_stream(s, cv, c.buf, n);
}

/* --- plain HTTP over sockets of tracked processes ------------------------------------ */

#define S_IFSOCK 0140000

static __always_inline bool http_method_prefix(const char *b) {
  return PFX("GET ") || PFX("POST ") || PFX("PUT ") || PFX("PATCH ") || PFX("DELETE ") ||
         PFX("HEAD ") || PFX("OPTIONS ");
}

static __always_inline void rustls_sent(__u32 tid, struct file *f, __s32 fd,
                                        const struct pending_call *c);

/* At sys_enter of a socket read/write: inside a TLS call, remember the fd for the
 * connection (the bytes are ciphertext); note which socket the thread reads from (Bun,
 * rustls) and whether a sealed rustls record leaves now; otherwise report whether the
 * plaintext is wanted. */
static __always_inline bool socket_io_enter(__u32 tid, const struct pending_call *c,
                                            __u64 *file_out) {
  __s32 fd = c->args[0];
  struct tls_call *tc = tls_slot(tid);
  if (tc && tc->tid == tid) {
    tc->fd = fd;
    return false;
  }
  struct file *f = fd_file(fd);
  if (!f) return false;
  __u32 imode = KREAD_PTR(struct file, f)->f_inode->i_mode;
  if ((imode & S_IFMT) != S_IFSOCK) return false;
  struct conn_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .conn = (__u64)f};
  struct conn_val *v = bpf_map_lookup_elem(&conns, &k);
  if (v) conn_check_socket(v, f);
  if (c->nr == NR_read || c->nr == NR_recvfrom || c->nr == NR_readv || c->nr == NR_recvmsg) {
    struct thread_sock *ts = thread_sock_slot(tid);
    if (ts) {
      ts->tid = tid;
      ts->fd = fd;
      ts->buf = (c->nr == NR_read || c->nr == NR_recvfrom) ? c->args[1] : 0;
      ts->len = (c->nr == NR_read || c->nr == NR_recvfrom) ? c->args[2] : 0;
    }
  } else {
    rustls_sent(tid, f, fd, c);
  }
  if (!cfg.capture_plain) return false;
  if (v && v->plain_state == REIN_PLAIN_OTHER) {
    /* ciphertext leaving a TLS socket: if plaintext hooks arrive late, this tells them */
    if (v->cipher_out < REIN_LATE_CIPHER_BYTES &&
        (c->nr == NR_write || c->nr == NR_sendto || c->nr == NR_writev || c->nr == NR_sendmsg)) {
      __u64 n = c->args[2];
      if (c->nr == NR_writev || c->nr == NR_sendmsg) {
        __u64 iov = c->args[1], v2[2] = {};
        if (c->nr == NR_sendmsg && bpf_probe_read_user(&iov, sizeof(iov), (void *)(iov + 16))) iov = 0;
        n = iov && !bpf_probe_read_user(v2, sizeof(v2), (void *)iov) ? v2[1] : 0;
      }
      v->cipher_out += n > REIN_LATE_CIPHER_BYTES ? REIN_LATE_CIPHER_BYTES : (__u32)n;
    }
    return false;
  }
  *file_out = (__u64)f;
  return true;
}

/* At sys_exit: `buf` held `n` bytes moved in direction `dir` on socket file `file`. */
static __noinline int socket_io_exit(__u64 file, __s32 fd, __u64 buf, __u64 n, __u32 dir) {
  struct scratch *s = get_scratch();
  if (!s || !n) return 0;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct conn_val *cv = conn_state(tgid, file);
  if (!cv) return 0;
  conn_check_socket(cv, (struct file *)file);
  if (cv->plain_state == REIN_PLAIN_UNKNOWN) {
    if (dir != REIN_DIR_EGRESS) return 0; /* requests come first */
    __builtin_memset(s->ustr, 0, 16);
    bpf_probe_read_user(s->ustr, 8, (void *)buf);
    cv->plain_state = http_method_prefix(s->ustr) ? REIN_PLAIN_HTTP : REIN_PLAIN_OTHER;
    /* A TLS ClientHello: its server name and ALPN keep undecodable TLS visible. */
    if (s->ustr[0] == 0x16 && s->ustr[1] == 0x03) {
      cv->fd = fd;
      s->ds.conn = file;
      s->ds.dir = REIN_DIR_EGRESS;
      s->ds.source = REIN_SRC_TLS_HELLO;
      s->ds.flags = 0;
      return emit_stream(s, cv, buf, n < REIN_TLS_HELLO_MAX ? n : REIN_TLS_HELLO_MAX);
    }
  }
  if (cv->plain_state != REIN_PLAIN_HTTP) return 0;
  cv->fd = fd;
  s->ds.conn = file;
  s->ds.dir = dir;
  s->ds.source = REIN_SRC_SOCKET;
  s->ds.flags = 0;
  return emit_stream(s, cv, buf, n);
}

/* Scatter/gather calls: the first few iovecs, in order. */
#define REIN_MAX_IOV 4
struct iov {
  __u64 base;
  __u64 len;
};
static __always_inline void socket_iov_exit(__u64 file, __s32 fd, __u64 iov_ptr, __u64 iovcnt,
                                            __u64 total, __u32 dir) {
  struct iov v[REIN_MAX_IOV] = {};
  if (iovcnt > REIN_MAX_IOV) iovcnt = REIN_MAX_IOV;
  if (bpf_probe_read_user(v, sizeof(v), (void *)iov_ptr)) return;
  for (int i = 0; i < REIN_MAX_IOV; i++) {
    if (i >= iovcnt || !total) break;
    __u64 n = v[i].len < total ? v[i].len : total;
    socket_io_exit(file, fd, v[i].base, n, dir);
    total -= n;
  }
}

#include "rustls.bpf.h"
#include "gotls.bpf.h"

#endif
