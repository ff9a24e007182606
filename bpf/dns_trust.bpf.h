/* Which DNS answers may teach addresses to host-name rules. An agent can run its own server
 * (127.0.0.2:53) that answers any name with any address; only answers from a resolver user
 * space trusts (the host's resolv.conf, a tracked container's own, --dns-resolver), to a
 * query the agent's socket actually sent to it, with the same DNS id, are learned. */
#ifndef REIN_DNS_TRUST_BPF_H
#define REIN_DNS_TRUST_BPF_H

#include "common.bpf.h"

/* Trusted resolvers: address (v4-mapped for IPv4) and port. Filled by user space. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, struct rein_endpoint);
  __type(value, __u32);
} dns_resolvers SEC(".maps");

/* Queries in flight from tracked processes to trusted resolvers. LRU: a query never
 * answered ages out; an agent that floods queries only evicts answers it would be taught. */
struct dns_query_key {
  __u64 cookie;
  __u8 addr[16]; /* the resolver, v4-mapped for IPv4 */
  __u16 port;
  __u16 id;      /* DNS message id, as on the wire */
  __u32 _pad;
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct dns_query_key);
  __type(value, __u64);
} dns_queries SEC(".maps");

/* addr: 4 bytes (family 2) or 16 bytes (family 10), as the skb carried it. */
static __always_inline void dns_peer_key(struct dns_query_key *k, __u64 cookie,
                                         const __u8 *addr, __u16 family, __u16 port,
                                         __u16 id) {
  __builtin_memset(k, 0, sizeof(*k));
  k->cookie = cookie;
  if (family == 2) {
    k->addr[10] = k->addr[11] = 0xff;
    __builtin_memcpy(&k->addr[12], addr, 4);
  } else {
    __builtin_memcpy(k->addr, addr, 16);
  }
  k->port = port;
  k->id = id;
}

static __always_inline bool dns_trusted_resolver(const struct dns_query_key *k) {
  struct rein_endpoint ep = {};
  __builtin_memcpy(ep.addr, k->addr, 16);
  ep.port = k->port;
  return bpf_map_lookup_elem(&dns_resolvers, &ep) != NULL;
}

/* Egress: a query (QR = 0) to a trusted resolver is remembered by socket, resolver and id. */
static __always_inline void dns_note_query(__u64 cookie, const __u8 *addr, __u16 family,
                                           __u16 port, const __u8 *msg, __u32 len) {
  if (len < 12 || (msg[2] & 0x80)) return;
  struct dns_query_key k;
  dns_peer_key(&k, cookie, addr, family, port, (msg[0] << 8) | msg[1]);
  if (!dns_trusted_resolver(&k)) return;
  __u64 ts = bpf_ktime_get_boot_ns();
  bpf_map_update_elem(&dns_queries, &k, &ts, BPF_ANY);
}

/* Ingress: true when this answer is from a trusted resolver and matches a query the socket
 * sent (which it consumes: one answer per query). Otherwise counted, and not learned. */
static __always_inline bool dns_answer_trusted(__u64 cookie, const __u8 *addr, __u16 family,
                                               __u16 port, const __u8 *msg, __u32 len) {
  if (len >= 12) {
    struct dns_query_key k;
    dns_peer_key(&k, cookie, addr, family, port, (msg[0] << 8) | msg[1]);
    if (dns_trusted_resolver(&k) && bpf_map_delete_elem(&dns_queries, &k) == 0) return true;
  }
  count(REIN_CTR_DNS_IGNORED);
  return false;
}

#endif
