/* The sensor's kernel programs: one object so all hook families share the maps in
 * maps.bpf.h. Each family lives in its own header. */
#include "holds.bpf.h"
#include "process.bpf.h"
#include "file.bpf.h"
#include "file_extra.bpf.h"
#include "net.bpf.h"
#include "sensor_guard.bpf.h"
#include "connect_state.bpf.h"
#include "tls.bpf.h"
#include "discover.bpf.h"

/* args[4] of a stashed open: 1 = read-only close-on-exec open, checked for a TLS library */
#define STASH_LIBCHECK 1


static __noinline bool adopt_written_file(struct file *f, __s32 fd) {
  struct file *fk = KREAD_PTR(struct file, f);
  if ((fk->f_inode->i_mode & S_IFMT) != S_IFREG || !(fk->f_mode & FMODE_WRITE)) return false;
  struct pending_call c = {.nr = NR_openat};
  c.args[2] = 1; /* O_WRONLY: not created, not truncated by this "open" */
  emit_open(&c, fd);
  return true;
}

/* Syscalls a tracked process makes that we report. Everything else returns after the
 * tracked-bit test. */
SEC("tp_btf/sys_enter")
int BPF_PROG(rein_sys_enter, struct pt_regs *regs, long nr) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  hold_sys_enter(tgid, nr, regs);
  if (!is_tracked(tgid)) {
    /* a candidate's first socket write may make it an agent; then it is handled below */
    if (!is_candidate(tgid) || !candidate_syscall(tgid, nr, regs->di, regs->si, regs->dx))
      return 0;
  }
  switch (nr) { /* cheap filter first: most syscalls of a tracked process are not ours */
  case NR_close: case NR_write: case NR_pwrite64: case NR_writev: case NR_pwritev:
  case NR_pwritev2: case NR_dup2: case NR_dup3: case NR_open: case NR_creat: case NR_openat:
  case NR_openat2: case NR_open_by_handle_at: case NR_connect: case NR_truncate:
  case NR_ftruncate: case NR_rename:
  case NR_renameat: case NR_renameat2: case NR_unlink: case NR_unlinkat: case NR_rmdir:
  case NR_mkdir: case NR_mkdirat: case NR_chmod: case NR_fchmod: case NR_fchmodat:
  case NR_fchmodat2: case NR_chown: case NR_fchown: case NR_lchown: case NR_fchownat:
  case NR_link: case NR_linkat: case NR_symlink: case NR_symlinkat:
  case NR_read: case NR_readv: case NR_sendto: case NR_recvfrom: case NR_sendmsg:
  case NR_recvmsg: case NR_ptrace: case NR_process_vm_writev:
    break;
  case NR_socket: /* nothing at the exit: judged now (net.bpf.h) */
    raw_socket_check(regs->di, regs->si);
    return 0;
  case NR_bpf: /* nothing at the exit: judged now (sensor_guard.bpf.h) */
    guard_bpf(regs->di);
    return 0;
  case NR_process_vm_readv:
    guard_target(nr, regs->di, 0);
    return 0;
  case NR_pidfd_getfd:
    guard_target(nr, regs->di, 1);
    return 0;
  default:
    if (!extra_syscall(nr)) return 0;
  }
  /* tp_btf hands us a trusted pt_regs: plain loads, no probe-read helper calls */
  struct pending_call c = {.nr = nr};
  c.args[0] = regs->di;
  c.args[1] = regs->si;
  c.args[2] = regs->dx;
  c.args[3] = regs->r10;
  c.args[4] = regs->r8;
  switch (nr) {
  case NR_close:
    close_fd(c.args[0]);
    return 0;
  case NR_dup2:
  case NR_dup3: /* replacing a descriptor closes what it referred to */
    if (c.args[0] == c.args[1]) return 0;
    c.args[5] = last_tracked_ref(c.args[1]);
    if (!c.args[5]) return 0;
    break;
  case NR_write:
  case NR_writev:
  case NR_pwrite64:
  case NR_pwritev:
  case NR_pwritev2: {
    __u64 fid = (__u64)fd_file(c.args[0]);
    struct open_file_val *ov = open_file_find(fid);
    /* A writable regular file this process did not open while tracked (inherited from before
     * discovery, received over SCM_RIGHTS, stdout redirected to a file): taken in at its first
     * write as if opened now, so its rules act and its writes are counted. */
    if (!ov && fid && adopt_written_file((struct file *)fid, (__s32)c.args[0]))
      ov = open_file_find(fid);
    if (ov) {
      c.args[5] = fid;
      c.args[4] = STASH_FILE_WRITE;
      if (nr == NR_write || nr == NR_pwrite64) {
        /* The whole count is added now, with the entry in hand: the exit needs the map
         * again only to take back what a short or failed write did not move. */
        __sync_fetch_and_add(&ov->bytes, c.args[2]);
        __sync_fetch_and_add(&ov->writes, 1);
        c.args[4] = STASH_FILE_WRITE_COUNTED;
      }
      break;
    }
    if (nr != NR_write && nr != NR_writev) return 0;
    __u64 file = 0;
    if (!socket_io_enter((__u32)id, &c, &file)) return 0;
    c.args[5] = file;
    c.args[4] = STASH_SOCKET;
    break;
  }
  case NR_read: case NR_readv: case NR_sendto: case NR_recvfrom: case NR_sendmsg:
  case NR_recvmsg: {
    __u64 file = 0;
    if (!socket_io_enter((__u32)id, &c, &file)) return 0;
    c.args[5] = file;
    c.args[4] = STASH_SOCKET;
    break;
  }
  case NR_open: /* normalise to openat's layout: dfd, path, flags, mode */
    c.args[3] = c.args[2];
    c.args[2] = c.args[1];
    c.args[1] = c.args[0];
    c.args[0] = (__u64)(__s64)AT_FDCWD;
    break;
  case NR_creat:
    c.args[3] = c.args[1];
    c.args[2] = O_CREAT | 1 /* O_WRONLY */ | O_TRUNC;
    c.args[1] = c.args[0];
    c.args[0] = (__u64)(__s64)AT_FDCWD;
    break;
  case NR_openat:
  case NR_open_by_handle_at: /* mount fd, handle, flags: openat's layout but for the name */
    break;
  case NR_ptrace: /* taking control of a process: it joins the agent (adopt_controlled) */
    if (c.args[0] != REIN_PTRACE_ATTACH && c.args[0] != REIN_PTRACE_SEIZE) return 0;
    guard_target(nr, c.args[1], 0);
    break;
  case NR_process_vm_writev:
    guard_target(nr, c.args[0], 0);
    break;
  case NR_connect: /* args[5]: the TCP socket followed for a non-blocking outcome */
    c.args[5] = connect_follow_enter(c.args[0]);
    break;
  case NR_openat2: { /* flags and mode live in struct open_how */
    __u64 how[2] = {};
    if (bpf_probe_read_user(how, sizeof(how), (void *)c.args[2])) {
      /* Not in memory yet (this program cannot fault it in): the open is still followed,
       * as one that may write; the exit judges it by what was opened (f_mode). */
      how[0] = O_RDWR;
      how[1] = 0;
    }
    c.args[2] = how[0];
    c.args[3] = how[1];
    break;
  }
  default:
    if (extra_syscall(nr) && !extra_enter(nr, &c)) return 0;
    break;
  }
  if (nr == NR_open || nr == NR_openat || nr == NR_openat2 || nr == NR_creat ||
      nr == NR_open_by_handle_at) {
    __u32 of = c.args[2];
    c.args[4] = 0;
    if ((of & O_ACCMODE) == O_RDONLY && !(of & (O_CREAT | O_TRUNC))) {
      /* the dynamic loader opens libraries read-only, close-on-exec: one may be TLS */
      if (!(of & O_CLOEXEC)) return 0;
      c.args[4] = STASH_LIBCHECK;
    }
  }
  __u32 tid = (__u32)id, slot_idx = tid & (REIN_PENDING_SLOTS - 1);
  struct pending_call *slot = bpf_map_lookup_elem(&pending, &slot_idx);
  if (!slot) return 0;
  c.tid = tid;
  if (slot->tid && slot->tid != tid) { /* another thread's call is in flight on this slot */
    struct pending_call *o = bpf_task_storage_get(&pending_overflow, bpf_get_current_task_btf(),
                                                  NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!o) {
      count(REIN_CTR_DROP_PENDING_FULL);
      return 0;
    }
    if (o->tid != tid) __sync_fetch_and_add(&pending_overflow_live, 1);
    *o = c;
    count(REIN_CTR_PENDING_SHARED);
    return 0;
  }
  *slot = c;
  return 0;
}

/* The call the current thread stashed at sys_enter, taken out of its slot (or its own
 * storage, when its slot was another thread's); NULL when it stashed none. */
static __always_inline struct pending_call *take_pending(__u32 tid) {
  __u32 slot_idx = tid & (REIN_PENDING_SLOTS - 1);
  struct pending_call *p = bpf_map_lookup_elem(&pending, &slot_idx);
  if (p && p->tid == tid) return p;
  if (!pending_overflow_live) return NULL;
  p = bpf_task_storage_get(&pending_overflow, bpf_get_current_task_btf(), NULL, 0);
  if (!p || p->tid != tid) return NULL;
  __sync_fetch_and_sub(&pending_overflow_live, 1);
  return p;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(rein_sys_exit, struct pt_regs *regs, long ret) {
  __u64 id = bpf_get_current_pid_tgid();
  if (!is_tracked(id >> 32)) return 0;
  __u32 tid = (__u32)id;
  struct pending_call *p = take_pending(tid);
  if (!p) return 0;
  struct pending_call c = *p;
  p->tid = 0;
  switch (c.nr) {
  case NR_write: case NR_writev:
    if (c.args[4] == STASH_SOCKET) {
      if (ret <= 0) return 0;
      if (c.nr == NR_write) return socket_io_exit(c.args[5], c.args[0], c.args[1], ret, REIN_DIR_EGRESS);
      socket_iov_exit(c.args[5], c.args[0], c.args[1], c.args[2], ret, REIN_DIR_EGRESS);
      return 0;
    }
    account_write(&c, ret);
    return 0;
  case NR_pwrite64: case NR_pwritev: case NR_pwritev2:
    account_write(&c, ret);
    return 0;
  case NR_read: case NR_recvfrom:
    if (ret > 0) socket_io_exit(c.args[5], c.args[0], c.args[1], ret, REIN_DIR_INGRESS);
    return 0;
  case NR_sendto:
    if (ret > 0) socket_io_exit(c.args[5], c.args[0], c.args[1], ret, REIN_DIR_EGRESS);
    return 0;
  case NR_readv:
    if (ret > 0) socket_iov_exit(c.args[5], c.args[0], c.args[1], c.args[2], ret, REIN_DIR_INGRESS);
    return 0;
  case NR_sendmsg: case NR_recvmsg: {
    if (ret <= 0) return 0;
    __u64 mh[2] = {}; /* struct user_msghdr: msg_iov at 16, msg_iovlen at 24 */
    if (bpf_probe_read_user(mh, sizeof(mh), (void *)(c.args[1] + 16))) return 0;
    socket_iov_exit(c.args[5], c.args[0], mh[0], mh[1], ret,
                    c.nr == NR_sendmsg ? REIN_DIR_EGRESS : REIN_DIR_INGRESS);
    return 0;
  }
  case NR_open: case NR_openat: case NR_openat2: case NR_creat:
    if (c.args[4] == STASH_LIBCHECK) return check_tls_lib(ret);
    return emit_open(&c, ret);
  case NR_open_by_handle_at: /* judged by the file it opened; a failure has no name to show */
    if (ret < 0 || c.args[4] == STASH_LIBCHECK) return 0;
    return emit_open(&c, ret);
  case NR_dup2: case NR_dup3:
    if (ret >= 0) report_close(c.args[5], c.args[1]);
    return 0;
  case NR_ptrace:
    if (ret == 0) adopt_controlled(c.args[1], 0);
    return 0;
  case NR_process_vm_writev:
    if (ret >= 0) adopt_controlled(c.args[0], REIN_F_CONTROLLED_VM);
    return 0;
  case NR_connect:
    emit_connect(&c, ret);
    connect_follow_exit(c.args[5], ret); /* after the connect record: user space joins them */
    return 0;
  default:
    return emit_file_op(&c, extra_result(c.nr, ret));
  }
}

char LICENSE[] SEC("license") = "GPL";
