/* rustls (Codex): no C ABI to hook, so the plaintext is taken at the record layer, from
 * aws-lc's assembly that seals and opens every TLS 1.3 record (AES-NI and ChaCha20-Poly1305
 * below; the AVX-512 AES-GCM entries here):
 *   aes_gcm_{en,de}crypt_avx512(key, ctx, &mres, in, len, out)
 * The plaintext is the TLS 1.3 inner plaintext: data, then the content type byte (0x17 for
 * application data). Sealing is seen at entry (in = plaintext), opening at return (out holds
 * it). Which socket a record belongs to:
 *  - open: rustls decrypts in place inside the buffer of the read() the thread just made;
 *  - seal: rustls encrypts in place and hands the same buffer to write/writev, so the write
 *    whose buffer starts 5 bytes (the record header) before `out` sends it. The first record
 *    under a new key goes out as conn = key (REIN_DF_KEYED); that write binds key -> socket
 *    (REIN_REC_BIND) and later records use the socket directly. */
#ifndef REIN_RUSTLS_BPF_H
#define REIN_RUSTLS_BPF_H

#define TLS_CT_APPLICATION_DATA 0x17
#define TLS_RECORD_MAX (16384 + 256)
#define RUSTLS_SEAL_WAIT_NS 100000000ULL /* a seal not sent within this is given up */

static __always_inline struct seal_wait *seal_slot(__u32 tid) { return thread_slot(&seal_waits, tid); }

static __always_inline struct open_call *open_slot(__u32 tid) { return thread_slot(&open_calls, tid); }

/* Is the record at buf[0..len) application data? len excludes nothing: the type is last. */
static __always_inline bool app_data_record(__u64 buf, __u64 len) {
  if (len < 2 || len > TLS_RECORD_MAX) return false;
  __u8 type = 0;
  if (bpf_probe_read_user(&type, 1, (void *)(buf + len - 1))) return false;
  if (type == TLS_CT_APPLICATION_DATA) return true;
  count(type == 0 ? REIN_CTR_TLS_PADDED : REIN_CTR_TLS_NOT_DATA);
  return false;
}

/* At a write/writev of a tracked process on socket f: does it send the record this thread
 * sealed under a key not bound yet? Then the key's stream continues as the socket's. */
static __always_inline void rustls_sent(__u32 tid, struct file *f, __s32 fd,
                                        const struct pending_call *c) {
  if (c->nr != NR_write && c->nr != NR_writev && c->nr != NR_sendto && c->nr != NR_sendmsg)
    return;
  struct seal_wait *w = seal_slot(tid);
  if (!w || w->tid != tid) return;
  __u64 base = c->args[1];
  if (c->nr == NR_writev) {
    if (bpf_probe_read_user(&base, sizeof(base), (void *)c->args[1])) return;
  } else if (c->nr == NR_sendmsg) {
    __u64 iov = 0; /* struct user_msghdr: msg_iov at 16 */
    if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(c->args[1] + 16)) ||
        bpf_probe_read_user(&base, sizeof(base), (void *)iov))
      return;
  }
  if (base + 5 != w->out) return;
  __u64 key = w->key;
  w->tid = 0;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct key_sock_key kk = {.tgid = tgid, .key = key};
  __u64 sock = (__u64)f;
  bpf_map_update_elem(&key_socks, &kk, &sock, BPF_ANY);
  /* the socket's egress offsets continue where the key's stopped */
  struct conn_key ck = {.tgid = tgid, .conn = key};
  struct conn_val *kv = bpf_map_lookup_elem(&conns, &ck);
  struct conn_val *sv = conn_state(tgid, sock);
  if (sv) {
    if (kv) sv->off[REIN_DIR_EGRESS] = kv->off[REIN_DIR_EGRESS];
    sv->fd = fd;
  }
  struct rein_bind b = {};
  fill_hdr(&b.h, REIN_REC_BIND, sizeof(b));
  b.from = key;
  b.to = sock;
  b.fd = fd;
  emit_data(&b, sizeof(b)); /* ordered with the payload it re-keys */
}

/* A record about to be sealed: its plaintext at src[0..len) (the content type last), under
 * the cipher context `key`, to be written to `out`. */
static __always_inline int seal_record(__u32 tgid, __u32 tid, __u64 key, __u64 src, __u64 len,
                                       __u64 out) {
  if (!app_data_record(src, len)) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct key_sock_key kk = {.tgid = tgid, .key = key};
  __u64 *sock = bpf_map_lookup_elem(&key_socks, &kk);
  __u64 conn = sock ? *sock : key;
  s->ds.flags = sock ? 0 : REIN_DF_KEYED;
  if (!sock) {
    struct seal_wait *w = seal_slot(tid);
    __u64 now = bpf_ktime_get_boot_ns();
    /* keep the first unsent record: a write of several records starts with it */
    if (w && (w->tid != tid || w->key != key || now - w->ts > RUSTLS_SEAL_WAIT_NS)) {
      w->tid = tid;
      w->out = out;
      w->key = key;
      w->ts = now;
    }
  }
  struct conn_val *cv = conn_state(tgid, conn);
  if (!cv) return 0;
  s->ds.conn = conn;
  s->ds.dir = REIN_DIR_EGRESS;
  s->ds.source = REIN_SRC_RUSTLS;
  return emit_stream(s, cv, src, len - 1);
}

SEC("uprobe")
int BPF_KPROBE(rein_gcm_seal, void *key, void *gctx, void *mres, void *in, __u64 len) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  if (!is_tracked(tgid)) return 0;
  return seal_record(tgid, tid, (__u64)key, (__u64)in, len, ctx->r9);
}

/* The stream an opened record belongs to: the socket of the read this thread made just
 * before (it filled the buffer being opened), else the cipher context. */
static __always_inline __u64 open_conn(__u32 tid, __u64 in, __u64 key, __s32 *fd) {
  struct thread_sock *ts = thread_sock_slot(tid);
  *fd = -1;
  if (ts && ts->tid == tid && ts->buf && in + 65536 > ts->buf && in < ts->buf + ts->len) {
    struct file *f = fd_file(ts->fd);
    if (f) {
      *fd = ts->fd;
      return (__u64)f;
    }
  }
  return key;
}

SEC("uprobe")
int BPF_KPROBE(rein_gcm_open_enter, void *key, void *gctx, void *mres, void *in, __u64 len) {
  __u64 id = bpf_get_current_pid_tgid();
  if (!is_tracked(id >> 32)) return 0;
  __u32 tid = (__u32)id;
  struct open_call *oc = open_slot(tid);
  if (!oc) return 0;
  oc->tid = tid;
  oc->in = (__u64)in;
  oc->out = ctx->r9;
  oc->len = len;
  oc->key = (__u64)key;
  return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(rein_gcm_open_exit) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  struct open_call *ocp = open_slot(tid);
  if (!ocp || ocp->tid != tid) return 0;
  struct open_call oc = *ocp;
  ocp->tid = 0;
  if (!app_data_record(oc.out, oc.len)) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  __s32 fd = -1;
  __u64 conn = open_conn(tid, oc.in, oc.key, &fd);
  struct conn_val *cv = conn_state(tgid, conn);
  if (!cv) return 0;
  if (fd >= 0) cv->fd = fd;
  s->ds.conn = conn;
  s->ds.dir = REIN_DIR_INGRESS;
  s->ds.source = REIN_SRC_RUSTLS;
  s->ds.flags = fd >= 0 ? 0 : REIN_DF_KEYED;
  return emit_stream(s, cv, oc.out, oc.len - 1);
}

/* aws-lc's AES-NI path, where the CPU has no AVX-512 (VAES): aesni_gcm_{en,de}crypt(in, out,
 * len, key, ivec, Xi) are called with each record whole but take only its bulk (96 bytes and
 * up), and C code the rest, so no hook sees a whole plaintext come out of an open. Sealing,
 * the entry has the whole plaintext, taken as at the AVX-512 entry. Opening, the entry has
 * the whole record in place behind its header: its ciphertext and tag go out with the key,
 * for user space to open (source/cipher_records.h). */
SEC("uprobe")
int BPF_KPROBE(rein_aesni_seal, void *in, void *out, __u64 len, void *key) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  if (!is_tracked(tgid)) return 0;
  return seal_record(tgid, tid, (__u64)key, (__u64)in, len, (__u64)out);
}

/* Sends a record for user space to open: its key record `k` (key, nonce, header filled in),
 * then its ciphertext and tag, src[0..record_len). `key_id` stands for the connection until
 * the socket is known. */
static __always_inline int send_cipher_record(__u32 tgid, __u32 tid, __u64 src, __u32 record_len,
                                              __u64 key_id, struct rein_cipher_key *k) {
  __s32 fd = -1;
  __u64 conn = open_conn(tid, src, key_id, &fd);
  struct conn_val *cv = conn_state(tgid, conn);
  if (!cv) return 0;
  if (fd >= 0) cv->fd = fd;
  fill_hdr(&k->h, REIN_REC_CIPHER_KEY, sizeof(*k));
  k->conn = conn;
  k->offset = cv->off[REIN_DIR_INGRESS];
  k->record_len = record_len;
  emit_data(k, sizeof(*k)); /* on the payload ring, before the chunks it opens */
  struct scratch *s = get_scratch();
  if (!s) return 0;
  s->ds.conn = conn;
  s->ds.dir = REIN_DIR_INGRESS;
  s->ds.source = REIN_SRC_RUSTLS;
  s->ds.flags = REIN_DF_CIPHER | (fd >= 0 ? 0 : REIN_DF_KEYED);
  return emit_stream(s, cv, src, record_len);
}

/* Is hdr a TLS 1.3 application-data record header for `len` bytes of ciphertext? */
static __always_inline bool app_data_header(const __u8 *hdr, __u64 len) {
  __u32 record_len = ((__u32)hdr[3] << 8) | hdr[4];
  return hdr[0] == TLS_CT_APPLICATION_DATA && hdr[1] == 3 && hdr[2] == 3 && record_len == len + 16;
}

SEC("uprobe")
int BPF_KPROBE(rein_aesni_open, void *in, void *out, __u64 len, void *key, void *ivec) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  if (!is_tracked(tgid)) return 0;
  if (len < 2 || len > TLS_RECORD_MAX) return 0;
  __u8 iv[16];
  if (bpf_probe_read_user(iv, sizeof(iv), ivec)) return 0;
  if (iv[12] || iv[13] || iv[14] || iv[15] != 2) return 0; /* not the start of a record */
  struct rein_cipher_key k = {};
  __u64 src = (__u64)in;
  if (bpf_probe_read_user(k.header, sizeof(k.header), (void *)(src - 5))) return 0;
  if (!app_data_header(k.header, len)) return 0;
  if (bpf_probe_read_user(k.key, sizeof(k.key), key) ||
      bpf_probe_read_user(&k.rounds, sizeof(k.rounds), (void *)((__u64)key + 240)))
    return 0;
  __builtin_memcpy(k.nonce, iv, sizeof(k.nonce));
  return send_cipher_record(tgid, tid, src, (__u32)len + 16, (__u64)key, &k);
}

/* aws-lc's ChaCha20-Poly1305, chacha20_poly1305_{seal,open}(out, in, len, ad, ad_len, data):
 * called with each record whole, ad its 5-byte header, data beginning with the 32-byte key,
 * then a 32-bit counter and the 12-byte nonce. Sealing, the entry has the whole plaintext;
 * opening, the ciphertext and tag go out with the key as on the AES-NI path. data is on the
 * caller's stack, so before a socket is known the connection is named by its key (the first
 * 8 bytes): the same for every record of one direction of one connection. */
static __always_inline __u64 chacha_key_id(const void *data) {
  __u64 v = 0;
  if (bpf_probe_read_user(&v, sizeof(v), data)) return 0;
  return v | 1;
}

SEC("uprobe")
int BPF_KPROBE(rein_chacha_seal, void *out, void *in, __u64 len, void *ad, __u64 ad_len) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  if (!is_tracked(tgid) || ad_len != 5) return 0;
  __u64 key = chacha_key_id((void *)ctx->r9);
  if (!key) return 0;
  return seal_record(tgid, tid, key, (__u64)in, len, (__u64)out);
}

SEC("uprobe")
int BPF_KPROBE(rein_chacha_open, void *out, void *in, __u64 len, void *ad, __u64 ad_len) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  if (!is_tracked(tgid)) return 0;
  if (ad_len != 5 || len < 2 || len > TLS_RECORD_MAX) return 0;
  struct rein_cipher_key k = {};
  if (bpf_probe_read_user(k.header, sizeof(k.header), ad) || !app_data_header(k.header, len)) return 0;
  const void *data = (const void *)ctx->r9;
  if (bpf_probe_read_user(k.key, sizeof(k.key), data) ||
      bpf_probe_read_user(k.nonce, sizeof(k.nonce), (const void *)((__u64)data + 36)))
    return 0;
  k.rounds = REIN_CIPHER_CHACHA20_POLY1305;
  __u64 key_id = 0;
  __builtin_memcpy(&key_id, k.key, sizeof(key_id));
  return send_cipher_record(tgid, tid, (__u64)in, (__u32)len + 16, key_id | 1, &k);
}

#endif
