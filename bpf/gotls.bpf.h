/* Go crypto/tls: uprobes on the entry of (*Conn).Read / (*Conn).Write and on each of their
 * RET instructions (found from .gopclntab by user space). Go grows goroutine stacks by moving
 * them, so a uretprobe's saved return address would be wrong: never use one here.
 * Register ABI (Go >= 1.17, ABIInternal): receiver in rax, the []byte in rbx/rcx/rdi, the
 * current goroutine in r14; results n in rax. A goroutine can leave on another thread than
 * it entered on, so calls are matched by goroutine, not by thread. */
#ifndef REIN_GOTLS_BPF_H
#define REIN_GOTLS_BPF_H

/* Layout facts (Go 1.17 to 1.23): tls.Conn starts with its net.Conn interface (itab, data);
 * for TCP the data is a *net.TCPConn whose first word is the *netFD; netFD starts with
 * poll.FD, whose Sysfd follows the 16-byte fdMutex. */
#define GO_NETFD_SYSFD_OFF 16

/* The socket fd under a *tls.Conn, or -1 when the chain does not lead to a socket. */
static __always_inline __s32 go_conn_fd(__u64 conn) {
  __u64 data = 0, netfd = 0;
  __s64 fd = -1;
  if (bpf_probe_read_user(&data, sizeof(data), (void *)(conn + 8)) || !data) return -1;
  if (bpf_probe_read_user(&netfd, sizeof(netfd), (void *)data) || !netfd) return -1;
  if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(netfd + GO_NETFD_SYSFD_OFF))) return -1;
  if (fd < 0 || fd > 1 << 20) return -1;
  struct file *f = fd_file(fd);
  if (!f) return -1;
  __u32 imode = KREAD_PTR(struct file, f)->f_inode->i_mode;
  return (imode & S_IFMT) == S_IFSOCK ? (__s32)fd : -1;
}

SEC("uprobe")
int rein_go_enter(struct pt_regs *ctx) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (!is_tracked(tgid)) return 0;
  __u64 g = ctx->r14;
  struct go_call c = {.conn = ctx->ax, .buf = ctx->bx,
                      .dir = (__u32)bpf_get_attach_cookie(ctx) & 1, .tgid = tgid};
  struct conn_key k = {.tgid = tgid, .conn = c.conn};
  struct conn_val *cv = bpf_map_lookup_elem(&conns, &k);
  if (!cv) { /* first call on this connection: did it already carry requests? */
    struct conn_val fresh = {.fd = go_conn_fd(c.conn)};
    c.flags = late_flag(tgid, &fresh, fresh.fd);
  }
  bpf_map_update_elem(&go_calls, &g, &c, BPF_ANY);
  return 0;
}

SEC("uprobe")
int rein_go_ret(struct pt_regs *ctx) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (!is_tracked(tgid)) return 0;
  __u64 g = ctx->r14;
  struct go_call *cp = bpf_map_lookup_elem(&go_calls, &g);
  if (!cp || cp->tgid != tgid) {
    count(REIN_CTR_GO_UNPAIRED);
    return 0;
  }
  struct go_call c = *cp;
  bpf_map_delete_elem(&go_calls, &g);
  __s64 n = (__s64)ctx->ax;
  if (n <= 0) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct conn_val *cv = conn_state(tgid, c.conn);
  if (!cv) return 0;
  if (cv->fd < 0) cv->fd = go_conn_fd(c.conn);
  s->ds.conn = c.conn;
  s->ds.dir = c.dir;
  s->ds.source = REIN_SRC_GOTLS;
  s->ds.flags = c.flags;
  return emit_stream(s, cv, c.buf, (__u64)n);
}

#endif
