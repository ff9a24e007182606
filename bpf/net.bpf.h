/* Network: connect() results from the syscall tracepoint, and DNS messages of tracked
 * processes from cgroup hooks at the cgroup v2 root. */
#ifndef REIN_NET_BPF_H
#define REIN_NET_BPF_H

#include "policy.bpf.h"
#include "dns_trust.bpf.h"

#define SOCK_DGRAM 2
#define SOCK_STREAM 1
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_UDP 17
#define DNS_PORT 53

/* Per agent class (index = class bit): the first network rule or allow-list whose scope
 * covers it (ops != 0), else zero. Written by user space at policy load. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, struct rein_rule);
} net_scope_rule SEC(".maps");

#define NR_socket 41
#define REIN_AF_INET 2
#define REIN_AF_INET6 10
#define REIN_AF_PACKET 17
#define REIN_AF_XDP 44
#define REIN_SOCK_RAW 3
#define REIN_SOCK_PACKET 10

/* socket(2) by a tracked process. A raw or packet socket (AF_PACKET, AF_XDP, SOCK_RAW,
 * SOCK_PACKET) sends packets no connect or sendmsg hook sees, so under a network rule it is
 * not allowed at all: SIGKILL now, at the syscall's entry, and the process dies on the way
 * back before it can send. Otherwise it is only reported. Global: verified once. */
__noinline int raw_socket_check(__u32 family, __u32 type) {
  __u32 t = type & 0xf; /* SOCK_NONBLOCK and SOCK_CLOEXEC ride in the high bits */
  bool raw = family == REIN_AF_PACKET || family == REIN_AF_XDP ||
             ((family == REIN_AF_INET || family == REIN_AF_INET6) &&
              (t == REIN_SOCK_RAW || t == REIN_SOCK_PACKET));
  if (!raw) return 0;
  __u32 cls = class_of(bpf_get_current_pid_tgid() >> 32);
  struct rein_rule *r = cls < 64 ? bpf_map_lookup_elem(&net_scope_rule, &cls) : NULL;
  ban_mechanism(REIN_MECH_RAW_SOCKET, (family << 16) | (t & 0xffff), r && r->ops ? r : NULL);
  return 0;
}

/* Set once a tracked process has a DNS socket: until then the skb hooks return at once. */
__u32 dns_socks_seen;

static __noinline int emit_connect(const struct pending_call *c, long ret) {
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct rein_connect *e = (struct rein_connect *)s->rec;
  fill_hdr(&e->h, REIN_REC_CONNECT, sizeof(*e));
  e->result = ret;
  e->fd = c->args[0];
  e->addrlen = c->args[2];
  e->_pad0 = 0;
  __u32 n = c->args[2];
  if (n > sizeof(e->sockaddr)) n = sizeof(e->sockaddr);
  __builtin_memset(e->sockaddr, 0, sizeof(e->sockaddr));
  if (bpf_probe_read_user(e->sockaddr, n & 127, (void *)c->args[1])) count(REIN_CTR_READ_FAILED);
  emit(e, sizeof(*e));
  return 0;
}

/* Remember UDP sockets of tracked processes that send to port 53 (connect or sendmsg). */
static __always_inline void note_dns_sock(struct bpf_sock_addr *ctx) {
  if (ctx->user_port != bpf_htons(DNS_PORT) || ctx->type != SOCK_DGRAM) return;
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  if (!is_tracked(tgid)) return;
  __u64 cookie = bpf_get_socket_cookie(ctx);
  struct dns_owner o = {.tgid = tgid, .agent = agent_of(tgid),
                        .uid = (__u32)bpf_get_current_uid_gid()};
  bpf_map_update_elem(&dns_socks, &cookie, &o, BPF_ANY);
  dns_socks_seen = 1;
}

/* A TCP connect of an untracked process makes it a discovery candidate (discover.bpf.h). */
static __always_inline void note_candidate(struct bpf_sock_addr *ctx) {
  if (!cfg.discover_connect || ctx->type != SOCK_STREAM) return;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (tgid == cfg.self_tgid || is_tracked(tgid)) return;
  set_candidate_bit(tgid);
}

SEC("cgroup/connect4")
int rein_connect4(struct bpf_sock_addr *ctx) {
  if (!net_policy(ctx, 0, 4)) return 0;
  note_dns_sock(ctx);
  note_candidate(ctx);
  return 1;
}
SEC("cgroup/connect6")
int rein_connect6(struct bpf_sock_addr *ctx) {
  if (!net_policy(ctx, 1, 6)) return 0;
  note_dns_sock(ctx);
  note_candidate(ctx);
  return 1;
}
SEC("cgroup/sendmsg4")
int rein_sendmsg4(struct bpf_sock_addr *ctx) {
  if (!net_policy(ctx, 0, 14)) return 0;
  note_dns_sock(ctx);
  return 1;
}
SEC("cgroup/sendmsg6")
int rein_sendmsg6(struct bpf_sock_addr *ctx) {
  if (!net_policy(ctx, 1, 16)) return 0;
  note_dns_sock(ctx);
  return 1;
}

struct udp_hdr {
  __u16 source, dest, len, check;
};

#define DNS_PAYLOAD(s) ((s)->rec + sizeof(struct rein_dns))

/* One byte of the question name: builds the hash of "label.label..." in lower case. */
static long qname_step(__u32 i, void *unused) {
  struct scratch *s = get_scratch();
  if (!s) return 1;
  struct dns_parse *p = &s->dp;
  if (p->off >= p->end) return 1;
  __u8 b = DNS_PAYLOAD(s)[p->off & (REIN_DNS_MAX - 1)];
  p->off++;
  if (p->remaining == 0) {
    if (b == 0) {
      p->done = 1;
      return 1;
    }
    if (b & 0xc0) return 1; /* a pointer in a question: not from a resolver we parse */
    if (p->labels++) p->hash = (p->hash ^ '.') * 0x100000001b3ULL;
    p->remaining = b;
    return 0;
  }
  if (b >= 'A' && b <= 'Z') b += 'a' - 'A';
  p->hash = (p->hash ^ b) * 0x100000001b3ULL;
  p->remaining--;
  return 0;
}

/* One answer record: A/AAAA addresses get the host's rules, merged into the rules that
 * already cover them (policy_learn_addr). */
static long answer_step(__u32 i, void *ctx) {
  struct scratch *s = get_scratch();
  if (!s) return 1;
  struct dns_parse *p = &s->dp;
  const __u8 *d = DNS_PAYLOAD(s);
  /* owner name: a compression pointer, or labels */
  for (int n = 0; n < 32; n++) {
    if (p->off >= p->end) return 1;
    __u8 b = d[p->off & (REIN_DNS_MAX - 1)];
    if ((b & 0xc0) == 0xc0) {
      p->off += 2;
      break;
    }
    p->off += 1 + b;
    if (b == 0) break;
  }
  if (p->off + 10 > p->end) return 1;
  __u32 o = p->off;
  __u16 type = (d[o & (REIN_DNS_MAX - 1)] << 8) | d[(o + 1) & (REIN_DNS_MAX - 1)];
  __u16 rdlen = (d[(o + 8) & (REIN_DNS_MAX - 1)] << 8) | d[(o + 9) & (REIN_DNS_MAX - 1)];
  o += 10;
  if (o + rdlen > p->end) return 1;
  struct rein_net_key k = {.prefixlen = 128};
  if (type == 1 && rdlen == 4) {
    k.addr[10] = k.addr[11] = 0xff;
    for (int j = 0; j < 4; j++) k.addr[12 + j] = d[(o + j) & (REIN_DNS_MAX - 1)];
  } else if (type == 28 && rdlen == 16) {
    for (int j = 0; j < 16; j++) k.addr[j] = d[(o + j) & (REIN_DNS_MAX - 1)];
  } else {
    p->off = o + rdlen;
    return 0;
  }
  if (policy_learn_addr(&k) == 0) { /* merged with the rules already covering k */
    __sync_fetch_and_add(&cfg.net_rules, 1);
    count(REIN_CTR_HOST_ADDRS);
  }
  p->off = o + rdlen;
  return 0;
}

/* A DNS answer for a tracked process: if its question names a host rule, the answered
 * addresses are denied (or allowed, for allow-lists) before the process sees them. */
static __always_inline void learn_hosts(struct scratch *s, __u32 len, __u32 tgid) {
  if (!cfg.host_rules || len < 12) return;
  const __u8 *d = DNS_PAYLOAD(s);
  if (!(d[2] & 0x80) || d[4] != 0 || d[5] != 1) return; /* a response with one question */
  __u32 ancount = (d[6] << 8) | d[7];
  struct dns_parse *p = &s->dp;
  p->off = 12;
  p->end = len;
  p->remaining = 0;
  p->done = 0;
  p->labels = 0;
  p->hash = 0xcbf29ce484222325ULL;
  bpf_loop(255, qname_step, NULL, 0);
  if (!p->done) return;
  if (!policy_learn_begin(p->hash, scope_bit(tgid))) return;
  p->off += 4; /* qtype, qclass */
  bpf_loop(ancount < 16 ? ancount : 16, answer_step, NULL, 0);
}

static __always_inline int dns_skb(struct __sk_buff *skb, int ingress) {
  if (!dns_socks_seen) return 1;
  __u64 cookie = bpf_get_socket_cookie(skb);
  struct dns_owner *owner = bpf_map_lookup_elem(&dns_socks, &cookie);
  if (!owner) return 1;
  struct scratch *s = get_scratch();
  if (!s) return 1;
  struct rein_dns *e = (struct rein_dns *)s->rec;
  __builtin_memset(e->addr, 0, sizeof(e->addr));
  __u32 off;
  __u8 vbyte;
  if (bpf_skb_load_bytes(skb, 0, &vbyte, 1)) return 1;
  if ((vbyte >> 4) == 4) {
    struct iphdr ip;
    if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP) return 1;
    off = (ip.ihl & 0xf) * 4;
    e->family = 2;
    __builtin_memcpy(e->addr, ingress ? &ip.saddr : &ip.daddr, 4);
  } else if ((vbyte >> 4) == 6) {
    struct ipv6hdr ip6;
    if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_UDP) return 1;
    off = sizeof(ip6);
    e->family = 10;
    __builtin_memcpy(e->addr, ingress ? &ip6.saddr : &ip6.daddr, 16);
  } else {
    return 1;
  }
  struct udp_hdr udp;
  if (bpf_skb_load_bytes(skb, off, &udp, sizeof(udp))) return 1;
  __u16 port = bpf_ntohs(ingress ? udp.source : udp.dest);
  if (port != DNS_PORT) return 1;
  __u32 plen = bpf_ntohs(udp.len);
  plen = plen > sizeof(udp) ? plen - sizeof(udp) : 0;
  __u32 n = plen;
  if (n > REIN_DNS_MAX) {
    n = REIN_DNS_MAX;
    count(REIN_CTR_DNS_TRUNCATED);
  }
  if (n == 0) return 1;
  if (bpf_skb_load_bytes(skb, off + sizeof(udp), s->rec + sizeof(*e), n & 1023)) return 1;
  e->h.kind = REIN_REC_DNS;
  e->h.abi = REIN_ABI_VERSION;
  e->h.size = sizeof(*e) + n;
  e->h.ts_ns = bpf_ktime_get_boot_ns();
  e->h.pid = owner->tgid;
  e->h.tgid = owner->tgid;
  e->h.agent = owner->agent;
  e->h.uid = owner->uid;
  e->sock_cookie = cookie;
  e->flags = ingress ? REIN_F_INGRESS : 0;
  e->len = n;
  e->orig_len = plen;
  e->port = port;
  e->_pad0 = 0;
  if (!ingress)
    dns_note_query(cookie, e->addr, e->family, port, DNS_PAYLOAD(s), n);
  else if (dns_answer_trusted(cookie, e->addr, e->family, port, DNS_PAYLOAD(s), n))
    learn_hosts(s, n, owner->tgid);
  else
    e->flags |= REIN_F_DNS_UNTRUSTED; /* user space must not learn from it either */
  emit_urgent(e, (sizeof(*e) + n) & 2047);
  return 1;
}

SEC("cgroup_skb/egress")
int rein_skb_egress(struct __sk_buff *skb) { return dns_skb(skb, 0); }
SEC("cgroup_skb/ingress")
int rein_skb_ingress(struct __sk_buff *skb) { return dns_skb(skb, 1); }

#endif
