/* File mutations through the syscalls beyond open/write/rename: data moved into a file by
 * the kernel (sendfile, splice, copy_file_range), shared writable mappings, device nodes,
 * fallocate, extended attributes; and io_uring, whose operations run in kernel workers that
 * no syscall hook sees, so under a file rule its use is not allowed at all.
 *
 * The mutations become ordinary REIN_REC_FILE records (decode_fop_extra fills the same
 * struct fop as the classic ops), matched by the file rules at sys_exit like the others. */
#ifndef REIN_FILE_EXTRA_BPF_H
#define REIN_FILE_EXTRA_BPF_H

#include "file.bpf.h"

#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_TYPE 0x0f
#define MAP_SHARED 0x01
#define MAP_SHARED_VALIDATE 0x03
#define MAP_ANONYMOUS 0x20

enum {
  NR_mmap = 9, NR_sendfile = 40, NR_mknod = 133, NR_setxattr = 188, NR_lsetxattr = 189,
  NR_fsetxattr = 190, NR_removexattr = 197, NR_lremovexattr = 198, NR_fremovexattr = 199,
  NR_mknodat = 259, NR_splice = 275, NR_fallocate = 285, NR_copy_file_range = 326,
  NR_io_uring_setup = 425, NR_io_uring_enter = 426, NR_io_uring_register = 427,
  NR_setxattrat = 463, NR_removexattrat = 466,
};

/* The syscalls of this file the sys_enter filter lets through. */
static __always_inline bool extra_syscall(long nr) {
  switch (nr) {
  case NR_mmap: case NR_sendfile: case NR_mknod: case NR_setxattr: case NR_lsetxattr:
  case NR_fsetxattr: case NR_removexattr: case NR_lremovexattr: case NR_fremovexattr:
  case NR_mknodat: case NR_splice: case NR_fallocate: case NR_copy_file_range:
  case NR_io_uring_setup: case NR_io_uring_enter: case NR_io_uring_register:
  case NR_setxattrat: case NR_removexattrat:
    return true;
  }
  return false;
}

/* Is fd a regular file open for writing? Data moved into anything else (a pipe, a socket)
 * is not a file mutation. */
static __always_inline bool writable_regular(__s32 fd) {
  struct file *f = fd_file(fd);
  if (!f) return false;
  __u32 imode = KREAD_PTR(struct file, f)->f_inode->i_mode;
  return (imode & S_IFMT) == S_IFREG && (KREAD_PTR(struct file, f)->f_mode & FMODE_WRITE);
}

/* io_uring by a tracked process. Under a file rule: SIGKILL now, at the syscall's entry, so
 * the process dies on the way back from it and never submits to the ring. Otherwise only
 * io_uring_setup is reported (enter is far too frequent to report). */
static __noinline int io_uring_enter_check(long nr) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  __u32 cls = class_of(tgid);
  struct rein_rule *r = cls < 64 ? bpf_map_lookup_elem(&file_scope_rule, &cls) : NULL;
  bool under = r && r->ops;
  if (!under && nr != NR_io_uring_setup) return 0;
  ban_mechanism(nr == NR_io_uring_setup   ? REIN_MECH_IO_URING_SETUP
                : nr == NR_io_uring_enter ? REIN_MECH_IO_URING_ENTER
                                          : REIN_MECH_IO_URING_REGISTER,
                0, under ? r : NULL);
  return 0;
}

/* mmap(PROT_EXEC) of a file an exec rule names: a program run without exec (the dynamic
 * loader given it as an argument maps its segments so). The rule acts now, at the mmap's
 * entry: the process dies (or stops) on the way back, before the code runs. The kernel maps
 * a program it execs itself, so a plain exec never comes here. Global: verified once, apart
 * from rein_sys_enter's paths. */
__noinline int exec_map_check(__s32 fd) {
  struct file *f = fd_file(fd);
  if (!f) return 0;
  struct file *fk = KREAD_PTR(struct file, f);
  if ((fk->f_inode->i_mode & S_IFMT) != S_IFREG) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct rein_mechanism *e = (struct rein_mechanism *)s->rec;
  struct path_req r = {.dentry = fk->f_path.dentry, .mnt = fk->f_path.mnt,
                       .tflag = REIN_F_PATH_TRUNCATED};
  __u32 len = put_path(s, sizeof(*e), &r);
  struct rein_rule rr = {};
  if (!match_exec(&s->rec[sizeof(*e)], len, bpf_get_current_pid_tgid() >> 32, &rr, false))
    return 0;
  e->outcome = enforce_rule(&rr);
  e->mechanism = REIN_MECH_EXEC_MAP;
  e->rule = rr.rule + 1;
  e->action = rr.action;
  e->path_len = len;
  e->flags = r.flags;
  __u32 size = sizeof(*e) + len;
  fill_hdr(&e->h, REIN_REC_MECHANISM, size);
  emit_urgent(e, size & REIN_REC_MASK);
  return 0;
}

/* sys_enter: 1 = stash the call for sys_exit, 0 = nothing to do. */
static __always_inline int extra_enter(long nr, struct pending_call *c) {
  switch (nr) {
  case NR_io_uring_setup: case NR_io_uring_enter: case NR_io_uring_register:
    io_uring_enter_check(nr);
    return 0;
  case NR_mmap: /* only shared, writable mappings of a file written through the mapping */
    if (c->args[3] & MAP_ANONYMOUS) return 0;
    if ((c->args[2] & PROT_EXEC) && cfg.exec_rules) exec_map_check((__s32)c->args[4]);
    if (!(c->args[2] & PROT_WRITE)) return 0;
    if ((c->args[3] & MAP_TYPE) != MAP_SHARED && (c->args[3] & MAP_TYPE) != MAP_SHARED_VALIDATE)
      return 0;
    return writable_regular((__s32)c->args[4]);
  case NR_sendfile: /* out_fd is the first argument */
  case NR_fallocate:
    return writable_regular((__s32)c->args[0]);
  case NR_splice: /* fd_out is the third */
  case NR_copy_file_range:
    return writable_regular((__s32)c->args[2]);
  }
  return 1; /* name-based: mknod, xattrs */
}

/* Fills o for the syscalls above; 0 if nr is not one of them. */
static __always_inline int decode_fop_extra(const struct pending_call *c, struct fop *o) {
  const __u64 *a = c->args;
  switch (c->nr) {
  case NR_sendfile: case NR_fallocate:
    o->op = REIN_OP_WRITE; o->fd = a[0]; return 1;
  case NR_splice: case NR_copy_file_range:
    o->op = REIN_OP_WRITE; o->fd = a[2]; return 1;
  case NR_mmap:
    o->op = REIN_OP_WRITE; o->fd = a[4]; return 1;
  case NR_mknod: o->op = REIN_OP_CREATE; o->p1 = a[0]; o->mode = a[1]; return 1;
  case NR_mknodat: o->op = REIN_OP_CREATE; o->dfd1 = a[0]; o->p1 = a[1]; o->mode = a[2]; return 1;
  case NR_setxattr: case NR_lsetxattr: case NR_removexattr: case NR_lremovexattr:
    o->op = REIN_OP_XATTR; o->p1 = a[0]; return 1;
  case NR_fsetxattr: case NR_fremovexattr:
    o->op = REIN_OP_XATTR; o->fd = a[0]; return 1;
  case NR_setxattrat: case NR_removexattrat:
    o->op = REIN_OP_XATTR; o->dfd1 = a[0]; o->p1 = a[1]; return 1;
  }
  return 0;
}

/* sys_exit result as the record carries it: 0 or -errno (bytes moved and mapping addresses
 * are not errors). */
static __always_inline long extra_result(long nr, long ret) {
  if (nr == NR_mmap || nr == NR_sendfile || nr == NR_splice || nr == NR_copy_file_range)
    return ret < 0 && ret >= -4095 ? ret : 0;
  return ret;
}

#endif
