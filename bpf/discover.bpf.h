/* Discovery without TLS hooks in untracked processes (cfg.discover_connect): a TCP connect
 * by an untracked process marks it a candidate (one bit); its next socket write is looked
 * at once. A TLS ClientHello whose server name is an LLM API host (llm_sni), or a plain-HTTP
 * request that starts like an LLM call (local model servers), makes it an agent before that
 * write leaves; user space then hooks its TLS library for this process only. Processes that
 * are never candidates pay one bit test per syscall and nothing in their TLS library. */
#ifndef REIN_DISCOVER_BPF_H
#define REIN_DISCOVER_BPF_H

#define TLS_HS_CLIENT_HELLO 1
#define REIN_SNI_COPY 2048 /* post-quantum key shares make hellos over a kilobyte */

static __always_inline __u32 be16_at(const __u8 *b, __u32 off) {
  return ((__u32)b[off & (REIN_SNI_COPY - 1)] << 8) | b[(off + 1) & (REIN_SNI_COPY - 1)];
}

/* One extension of the ClientHello; stops at server_name (type 0). */
static long sni_ext_step(__u32 i, void *unused) {
  struct scratch *s = get_scratch();
  if (!s) return 1;
  struct sni_scan *p = &s->sn;
  const __u8 *b = s->rec;
  if (p->off + 4 > p->end) return 1;
  __u32 type = be16_at(b, p->off), len = be16_at(b, p->off + 2);
  if (type == 0) {
    /* server_name_list length (2), name type (1), name length (2), name */
    __u32 o = p->off + 4;
    if (o + 5 > p->end || b[(o + 2) & (REIN_SNI_COPY - 1)] != 0) return 1;
    __u32 n = be16_at(b, o + 3);
    if (n == 0 || n > 253 || o + 5 + n > p->end) return 1;
    p->name_off = o + 5;
    p->name_len = n;
    return 1;
  }
  p->off += 4 + len;
  return 0;
}

/* One byte of the server name: FNV-1a 64 of the whole name and of what follows its first dot. */
static long sni_hash_step(__u32 i, void *unused) {
  struct scratch *s = get_scratch();
  if (!s) return 1;
  struct sni_scan *p = &s->sn;
  if (i >= p->name_len) return 1;
  __u8 c = s->rec[(p->name_off + i) & (REIN_SNI_COPY - 1)];
  if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
  p->full = (p->full ^ c) * 0x100000001b3ULL;
  if (p->dot) p->suffix = (p->suffix ^ c) * 0x100000001b3ULL;
  if (c == '.' && !p->dot) p->dot = i + 1;
  return 0;
}

/* s->rec[0..n) holds the start of a TLS record: is it a ClientHello naming an LLM API host? */
static __noinline bool llm_client_hello(struct scratch *s, __u32 n) {
  const __u8 *b = s->rec;
  if (n < 48 || b[0] != 0x16 || b[1] != 0x03 || b[5] != TLS_HS_CLIENT_HELLO) return false;
  struct sni_scan *p = &s->sn;
  __u32 o = 5 + 4 + 2 + 32; /* record header, handshake header, version, random */
  o += 1 + b[o & (REIN_SNI_COPY - 1)];         /* session id */
  if (o + 2 > n) return false;
  o += 2 + be16_at(b, o);                      /* cipher suites */
  if (o + 1 > n) return false;
  o += 1 + b[o & (REIN_SNI_COPY - 1)];         /* compression methods */
  if (o + 2 > n) return false;
  __u32 end = o + 2 + be16_at(b, o);
  p->off = o + 2;
  p->end = end < n ? end : n;
  p->name_off = p->name_len = 0;
  bpf_loop(64, sni_ext_step, NULL, 0);
  if (!p->name_len) return false;
  p->full = p->suffix = 0xcbf29ce484222325ULL;
  p->dot = 0;
  bpf_loop(256, sni_hash_step, NULL, 0);
  __u32 *v = bpf_map_lookup_elem(&llm_sni, &p->full);
  if (v) return true;
  v = p->dot ? bpf_map_lookup_elem(&llm_sni, &p->suffix) : NULL;
  return v && *v == 2;
}

/* sys_enter of a candidate (untracked) process. True when it just became an agent: the
 * caller then handles this syscall as a tracked one, so this very request is captured. */
static __noinline bool candidate_syscall(__u32 tgid, long nr, __u64 fd, __u64 a1, __u64 a2) {
  __u64 buf = a1, len = a2;
  if (nr == NR_writev || nr == NR_sendmsg) {
    __u64 iov = a1;
    if (nr == NR_sendmsg && bpf_probe_read_user(&iov, sizeof(iov), (void *)(a1 + 16))) return false;
    __u64 v[2] = {};
    if (bpf_probe_read_user(v, sizeof(v), (void *)iov)) return false;
    buf = v[0];
    len = v[1];
  } else if (nr != NR_write && nr != NR_sendto) {
    return false;
  }
  struct file *f = fd_file(fd);
  if (!f) return false;
  __u32 imode = KREAD_PTR(struct file, f)->f_inode->i_mode;
  if ((imode & S_IFMT) != S_IFSOCK) return false; /* stdout, log files: keep waiting */
  clear_candidate_bit(tgid); /* one look per connect */
  if (len < 16) return false;
  struct scratch *s = get_scratch();
  if (!s) return false;
  __u32 n = len < REIN_SNI_COPY ? len : REIN_SNI_COPY;
  if (bpf_probe_read_user(s->rec, n & (REIN_SNI_COPY * 2 - 1), (void *)buf)) return false;
  if (llm_client_hello(s, n)) {
    count(REIN_CTR_DISCOVERED_SNI);
    return become_agent(tgid, REIN_F_DISC_SNI);
  }
  if (n >= REIN_DATA_PEEK && llm_request_prefix((const char *)s->rec)) {
    count(REIN_CTR_DISCOVERED_PLAIN);
    return become_agent(tgid, REIN_F_DISC_PLAIN);
  }
  return false;
}

#endif
