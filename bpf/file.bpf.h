/* File mutations of tracked processes from the syscall tracepoints.
 *
 * Arguments are stashed at sys_enter and the event is built at sys_exit, when the result
 * is known and the caller's strings are certainly paged in (the syscall just read them).
 * Opens for writing are summarised: one record at open (path from the opened file itself)
 * and one at close or exit with the bytes written in between. */
#ifndef REIN_FILE_BPF_H
#define REIN_FILE_BPF_H

#include "path.bpf.h"
#include "policy.bpf.h"
#include "inode_rules.bpf.h"

#define O_ACCMODE 00000003
#define O_RDONLY 00000000
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define O_CLOEXEC 02000000
#define AT_REMOVEDIR 0x200
#define S_IFMT 00170000
#define S_IFREG 0100000
#define FMODE_WRITE 0x2

/* FMODE_CREATED is a kernel macro, not in BTF; user space may override it. */
const volatile __u32 fmode_created = 1u << 20;

/* x86_64 syscall numbers */
enum {
  NR_write = 1, NR_open = 2, NR_close = 3, NR_pwrite64 = 18, NR_writev = 20,
  NR_dup2 = 33, NR_connect = 42, NR_dup3 = 292, NR_truncate = 76, NR_ftruncate = 77, NR_rename = 82, NR_mkdir = 83,
  NR_rmdir = 84, NR_creat = 85, NR_link = 86, NR_unlink = 87, NR_symlink = 88,
  NR_chmod = 90, NR_fchmod = 91, NR_chown = 92, NR_fchown = 93, NR_lchown = 94,
  NR_mkdirat = 258, NR_fchownat = 260, NR_unlinkat = 263, NR_renameat = 264,
  NR_linkat = 265, NR_symlinkat = 266, NR_fchmodat = 268, NR_pwritev = 296,
  NR_renameat2 = 316, NR_pwritev2 = 328, NR_openat = 257, NR_openat2 = 437,
  NR_fchmodat2 = 452, NR_read = 0, NR_readv = 19, NR_sendto = 44, NR_recvfrom = 45,
  NR_sendmsg = 46, NR_recvmsg = 47, NR_ptrace = 101, NR_process_vm_writev = 311,
  NR_open_by_handle_at = 304,
};
#define REIN_PTRACE_ATTACH 16
#define REIN_PTRACE_SEIZE 0x4206

struct fop {
  __u64 p1, p2;
  __s32 dfd1, dfd2;
  __s32 fd; /* fd-based ops (fchmod, fchown, ftruncate); -1 otherwise */
  __u32 mode, owner, group;
  __u16 op;
  __u8 p2_raw; /* p2 is a symlink target, reported as given */
};

/* sendfile, mmap, mknod, xattrs, ...: file_extra.bpf.h */
static __always_inline int decode_fop_extra(const struct pending_call *c, struct fop *o);

static __always_inline int decode_fop(const struct pending_call *c, struct fop *o) {
  const __u64 *a = c->args;
  o->fd = -1;
  o->dfd1 = o->dfd2 = AT_FDCWD;
  o->owner = o->group = (__u32)-1;
  switch (c->nr) {
  case NR_truncate: o->op = REIN_OP_TRUNCATE; o->p1 = a[0]; return 1;
  case NR_ftruncate: o->op = REIN_OP_TRUNCATE; o->fd = a[0]; return 1;
  case NR_rename: o->op = REIN_OP_RENAME; o->p1 = a[0]; o->p2 = a[1]; return 1;
  case NR_renameat:
  case NR_renameat2:
    o->op = REIN_OP_RENAME; o->dfd1 = a[0]; o->p1 = a[1]; o->dfd2 = a[2]; o->p2 = a[3];
    return 1;
  case NR_unlink: o->op = REIN_OP_UNLINK; o->p1 = a[0]; return 1;
  case NR_unlinkat:
    o->op = (a[2] & AT_REMOVEDIR) ? REIN_OP_RMDIR : REIN_OP_UNLINK; o->dfd1 = a[0]; o->p1 = a[1];
    return 1;
  case NR_rmdir: o->op = REIN_OP_RMDIR; o->p1 = a[0]; return 1;
  case NR_mkdir: o->op = REIN_OP_MKDIR; o->p1 = a[0]; o->mode = a[1]; return 1;
  case NR_mkdirat: o->op = REIN_OP_MKDIR; o->dfd1 = a[0]; o->p1 = a[1]; o->mode = a[2]; return 1;
  case NR_chmod: o->op = REIN_OP_CHMOD; o->p1 = a[0]; o->mode = a[1]; return 1;
  case NR_fchmod: o->op = REIN_OP_CHMOD; o->fd = a[0]; o->mode = a[1]; return 1;
  case NR_fchmodat:
  case NR_fchmodat2:
    o->op = REIN_OP_CHMOD; o->dfd1 = a[0]; o->p1 = a[1]; o->mode = a[2]; return 1;
  case NR_chown:
  case NR_lchown:
    o->op = REIN_OP_CHOWN; o->p1 = a[0]; o->owner = a[1]; o->group = a[2]; return 1;
  case NR_fchown: o->op = REIN_OP_CHOWN; o->fd = a[0]; o->owner = a[1]; o->group = a[2]; return 1;
  case NR_fchownat:
    o->op = REIN_OP_CHOWN; o->dfd1 = a[0]; o->p1 = a[1]; o->owner = a[2]; o->group = a[3];
    return 1;
  case NR_link: o->op = REIN_OP_LINK; o->p1 = a[0]; o->p2 = a[1]; return 1;
  case NR_linkat:
    o->op = REIN_OP_LINK; o->dfd1 = a[0]; o->p1 = a[1]; o->dfd2 = a[2]; o->p2 = a[3]; return 1;
  case NR_symlink: o->op = REIN_OP_SYMLINK; o->p1 = a[1]; o->p2 = a[0]; o->p2_raw = 1; return 1;
  case NR_symlinkat:
    o->op = REIN_OP_SYMLINK; o->dfd1 = a[1]; o->p1 = a[2]; o->p2 = a[0]; o->p2_raw = 1;
    return 1;
  }
  return decode_fop_extra(c, o);
}

/* Caller's path string into s->ustr; length without the NUL, or -1. */
static __always_inline __s32 read_ustr(struct scratch *s, __u64 uptr) {
  long n = bpf_probe_read_user_str(s->ustr, REIN_PATH_MAX, (const void *)uptr);
  if (n <= 0) {
    count(REIN_CTR_READ_FAILED);
    return -1;
  }
  return n - 1;
}

/* Absolute path for (dfd, user path) or for an fd, written to s->rec at off. */
struct resolve_req {
  __u64 uptr;
  __s32 fd; /* >= 0: the path of this descriptor */
  __s32 dfd;
  __u32 tflag;
  __u32 flags; /* in/out */
};

static __noinline __u32 resolve_into(struct scratch *s, __u32 off, struct resolve_req *q) {
  struct path_req r = {.tflag = q->tflag};
  __u32 len = 0;
  if (q->fd >= 0) {
    struct file *f = fd_file(q->fd);
    if (!f) {
      q->flags |= REIN_F_PATH_UNRESOLVED;
      return 0;
    }
    struct file *fk = KREAD_PTR(struct file, f);
    r.dentry = fk->f_path.dentry;
    r.mnt = fk->f_path.mnt;
    len = put_path(s, off, &r);
    q->flags |= r.flags;
    return len;
  }
  r.ulen = read_ustr(s, q->uptr);
  if (r.ulen < 0) {
    q->flags |= REIN_F_PATH_UNRESOLVED;
    return 0;
  }
  if (!(r.ulen > 0 && s->ustr[0] == '/')) {
    if (q->dfd == AT_FDCWD) {
      struct task_struct *task = bpf_get_current_task_btf();
      r.dentry = task->fs->pwd.dentry;
      r.mnt = task->fs->pwd.mnt;
    } else {
      struct file *f = fd_file(q->dfd);
      if (f) {
        struct file *fk = KREAD_PTR(struct file, f);
        r.dentry = fk->f_path.dentry;
        r.mnt = fk->f_path.mnt;
      } else {
        q->flags |= REIN_F_PATH_UNRESOLVED;
      }
    }
  }
  len = put_path(s, off, &r);
  q->flags |= r.flags;
  return len;
}

/* The rule a process falls under for "any file rule": array slot = its agent class. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, struct rein_rule); /* ops == 0: no file rule for this class */
} file_scope_rule SEC(".maps");

static __always_inline __u32 class_of(__u32 tgid) {
  struct rein_tracked *t = bpf_map_lookup_elem(&tracked, &tgid);
  if (!t) return 64;
  if (t->selector == 0xffffffff) return REIN_CLASS_DISCOVERED;
  __u32 sel = t->selector;
  __u32 *cls = bpf_map_lookup_elem(&sel_class, &sel);
  return cls ? *cls : REIN_CLASS_CLI;
}

/* A path too long to judge (the walk and the name past REIN_PATH_MAX): a name-based rule
 * cannot have matched it, so a process under a file rule falls under that rule (fails
 * closed) rather than slipping past every rule with a padded name. */
static __always_inline bool unjudged_path_rule(struct rein_rule *out) {
  __u32 cls = class_of(bpf_get_current_pid_tgid() >> 32);
  struct rein_rule *r = cls < 64 ? bpf_map_lookup_elem(&file_scope_rule, &cls) : NULL;
  if (!r || !r->ops) return false;
  *out = *r;
  return true;
}

static __noinline int emit_file_op(const struct pending_call *c, long ret) {
  struct fop o = {};
  if (!decode_fop(c, &o)) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct rein_file *e = (struct rein_file *)s->rec;
  __u32 off = sizeof(*e);
  struct resolve_req q1 = {.uptr = o.p1, .fd = o.fd, .dfd = o.dfd1,
                           .tflag = REIN_F_PATH_TRUNCATED};
  __u32 len1 = resolve_into(s, off, &q1);
  __u32 flags = q1.flags;
  off += len1;
  __u32 len2 = 0;
  if (o.p2) {
    if (o.p2_raw) {
      struct path_req r = {.ulen = read_ustr(s, o.p2), .tflag = REIN_F_PATH2_TRUNCATED};
      len2 = put_path(s, off, &r);
      flags |= r.flags;
    } else {
      struct resolve_req q2 = {.uptr = o.p2, .fd = -1, .dfd = o.dfd2,
                               .tflag = REIN_F_PATH2_TRUNCATED};
      len2 = resolve_into(s, off, &q2);
      flags |= q2.flags;
    }
  }
  off += len2;
  struct rein_rule rr = {};
  __u8 outcome = 0;
  /* rename/link: both names are decided and the more severe rule acts (an audit on the
   * old name must not hide a deny on the new one) */
  struct rein_rule r2 = {};
  int m1 = match_file(s, sizeof(*e), len1, o.op, &rr);
  int m2 = (o.op == REIN_OP_RENAME || o.op == REIN_OP_LINK) &&
           match_file(s, sizeof(*e) + len1, len2, o.op, &r2);
  if (m2 && (!m1 || rein_severity(r2.action) > rein_severity(rr.action))) {
    rr = r2;
    m1 = 1;
  }
  if (m1)
    outcome = enforce_rule(&rr);
  else if (o.fd >= 0 && match_inode_file(fd_file(o.fd), o.op, &rr)) {
    flags |= REIN_F_INODE_RULE;
    outcome = enforce_rule(&rr);
  } else if ((flags & (REIN_F_PATH_TRUNCATED | REIN_F_PATH2_TRUNCATED)) && unjudged_path_rule(&rr)) {
    outcome = enforce_rule(&rr);
  }
  e->rule = outcome ? rr.rule + 1 : 0;
  e->action = outcome ? rr.action : 0;
  e->outcome = outcome;
  e->_pad1 = 0;
  fill_hdr(&e->h, REIN_REC_FILE, off);
  e->op = o.op;
  e->path_len = len1;
  e->path2_len = len2;
  e->_pad0 = 0;
  e->result = ret;
  e->flags = flags;
  e->mode = o.mode;
  e->owner = o.owner;
  e->group = o.group;
  e->syscall = c->nr;
  if (outcome)
    emit_urgent(e, off & REIN_REC_MASK);
  else
    emit(e, off & REIN_REC_MASK);
  return 0;
}

/* Open family, args normalised at entry: [0]=dfd [1]=path [2]=flags [3]=mode. */
static __noinline int emit_open(const struct pending_call *c, long ret) {
  struct scratch *s = get_scratch();
  if (!s) return 0;
  __u32 oflags = c->args[2];
  __u32 flags = 0;
  if (ret < 0) { /* a failed attempt to create or empty a file is still worth reporting */
    if (!(oflags & (O_CREAT | O_TRUNC))) return 0;
    struct rein_file *e = (struct rein_file *)s->rec;
    struct resolve_req q = {.uptr = c->args[1], .fd = -1, .dfd = c->args[0],
                            .tflag = REIN_F_PATH_TRUNCATED};
    __u32 len = resolve_into(s, sizeof(*e), &q);
    flags = q.flags;
    __u32 size = sizeof(*e) + len;
    fill_hdr(&e->h, REIN_REC_FILE, size);
    e->op = (oflags & O_CREAT) ? REIN_OP_CREATE : REIN_OP_TRUNCATE;
    e->path_len = len;
    e->path2_len = 0;
    e->_pad0 = 0;
    e->result = ret;
    e->flags = flags;
    e->mode = c->args[3];
    e->owner = e->group = (__u32)-1;
    e->syscall = c->nr;
    e->rule = 0;
    e->action = e->outcome = 0;
    e->_pad1 = 0;
    emit(e, size & REIN_REC_MASK);
    return 0;
  }
  struct file *f = fd_file(ret);
  if (!f) return 0;
  struct file *fk = KREAD_PTR(struct file, f);
  __u32 imode = fk->f_inode->i_mode;
  if ((imode & S_IFMT) != S_IFREG) return 0;
  __u32 fmode = fk->f_mode;
  flags = REIN_F_PATH_FROM_FD;
  if (fmode & fmode_created)
    flags |= REIN_F_CREATED;
  else if (oflags & O_TRUNC)
    flags |= REIN_F_TRUNCATED;
  if (fmode & FMODE_WRITE) flags |= REIN_F_WRITABLE;
  if (!(flags & (REIN_F_CREATED | REIN_F_TRUNCATED | REIN_F_WRITABLE))) return 0;

  __u64 fid = (__u64)f;
  if (flags & REIN_F_WRITABLE) {
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct open_file_val *ov = open_file_find(fid);
    if (ov) { /* a freed file we missed the last close of (close_range, exec) */
      struct rein_file_close cl = {};
      fill_hdr(&cl.h, REIN_REC_FILE_CLOSE, sizeof(cl));
      cl.file_id = fid;
      cl.fd = ov->fd;
      cl.writes = ov->writes;
      cl.bytes = ov->bytes;
      emit(&cl, sizeof(cl));
      ov->bytes = 0;
      ov->writes = 0;
      ov->tgid = tgid;
      ov->fd = ret;
      set_open_owner(tgid);
    } else if ((ov = open_file_claim(fid))) {
      ov->bytes = 0;
      ov->writes = 0;
      ov->tgid = tgid;
      ov->fd = ret;
      set_open_owner(tgid);
      open_file_publish(ov, fid);
    } else {
      count(REIN_CTR_DROP_OPENFILE_FULL);
    }
  }
  struct rein_file_open *e = (struct rein_file_open *)s->rec;
  struct path_req r = {.dentry = fk->f_path.dentry, .mnt = fk->f_path.mnt,
                       .tflag = REIN_F_PATH_TRUNCATED};
  __u32 len = put_path(s, sizeof(*e), &r);
  flags |= r.flags;
  __u32 size = sizeof(*e) + len;
  struct rein_rule rr = {};
  __u8 outcome = 0;
  __u32 op = (flags & REIN_F_CREATED) ? REIN_OP_CREATE
             : (flags & REIN_F_TRUNCATED) ? REIN_OP_TRUNCATE : REIN_OP_WRITE;
  if (cfg.file_rules && match_file(s, sizeof(*e), len, op, &rr)) {
    outcome = enforce_rule(&rr);
  } else if (match_inode_file(f, op, &rr)) {
    flags |= REIN_F_INODE_RULE;
    outcome = enforce_rule(&rr);
  } else if ((flags & REIN_F_PATH_TRUNCATED) && unjudged_path_rule(&rr)) {
    outcome = enforce_rule(&rr);
  }
  e->rule = outcome ? rr.rule + 1 : 0;
  e->action = outcome ? rr.action : 0;
  e->outcome = outcome;
  e->_pad2 = 0;
  e->_pad3 = 0;
  fill_hdr(&e->h, REIN_REC_FILE_OPEN, size);
  e->file_id = fid;
  e->fd = ret;
  e->flags = flags;
  e->open_flags = oflags;
  e->mode = imode;
  e->path_len = len;
  e->_pad0 = 0;
  if (outcome)
    emit_urgent(e, size & REIN_REC_MASK);
  else
    emit(e, size & REIN_REC_MASK);
  return 0;
}

/* args[4] of a stashed write/read: what the exit handler does with it */
#define STASH_FILE_WRITE 0
#define STASH_SOCKET 1
#define STASH_FILE_WRITE_COUNTED 2 /* write/pwrite64: counted at entry, in full */

/* Writes: args[5] holds the struct file the fd referred to at entry; args[4] says whether
 * the entry already counted args[2] bytes and one write. A write whose exit never runs (the
 * task killed inside a blocking write) stays counted in full. */
static __always_inline void account_write(const struct pending_call *c, long ret) {
  const bool counted = c->args[4] == STASH_FILE_WRITE_COUNTED;
  if (counted ? ret > 0 && (__u64)ret == c->args[2] : ret <= 0) return;
  struct open_file_val *v = open_file_find(c->args[5]);
  if (!v) return;
  if (!counted) {
    __sync_fetch_and_add(&v->bytes, ret);
    __sync_fetch_and_add(&v->writes, 1);
    return;
  }
  __sync_fetch_and_sub(&v->bytes, c->args[2] - (ret > 0 ? (__u64)ret : 0));
  if (ret <= 0) __sync_fetch_and_sub(&v->writes, 1);
}

/* Is this descriptor the file's last reference? file_ref_t (6.13+) counts from zero. */
static __always_inline bool last_reference(struct file *f) {
  if (bpf_core_field_exists(f->f_ref))
    return KREAD_PTR(struct file, f)->f_ref.refcnt.counter == 0;
  return true;
}

/* Tracked file behind fd if this descriptor holds its last reference, else 0. */
static __always_inline __u64 last_tracked_ref(__s32 fd) {
  struct file *f = fd_file(fd);
  if (!f) return 0;
  __u64 fid = (__u64)f;
  if (!open_file_find(fid) || !last_reference(f)) return 0;
  return fid;
}

/* The summary record of v, and fid is forgotten. */
static __always_inline void emit_close(__u64 fid, __s32 fd, struct open_file_val *v) {
  struct rein_file_close c = {};
  fill_hdr(&c.h, REIN_REC_FILE_CLOSE, sizeof(c));
  c.file_id = fid;
  c.fd = fd;
  c.writes = v->writes;
  c.bytes = v->bytes;
  emit(&c, sizeof(c));
  open_file_release(v);
}

/* The summary of writes through a file whose last descriptor is going away (close, or
 * dup2 over it, as shells do to restore redirected stdout). */
static __always_inline void report_close(__u64 fid, __s32 fd) {
  struct open_file_val *v = open_file_find(fid);
  if (v) emit_close(fid, fd, v);
}

/* close(fd): as last_tracked_ref + report_close, with one lookup of open_files. */
static __always_inline void close_fd(__s32 fd) {
  struct file *f = fd_file(fd);
  if (!f) return;
  __u64 fid = (__u64)f;
  struct open_file_val *v = open_file_find(fid);
  if (v && last_reference(f)) emit_close(fid, fd, v);
}

/* A read-only close-on-exec open by a tracked process succeeded: if it is a TLS library
 * (the loader or dlopen at work), tell user space now, so it hooks that library for this
 * process before the first handshake. */
static __noinline int check_tls_lib(long ret) {
  if (ret < 0) return 0;
  struct file *f = fd_file(ret);
  if (!f) return 0;
  struct file *fk = KREAD_PTR(struct file, f);
  const unsigned char *name = fk->f_path.dentry->d_name.name;
  char n[16] = {};
  if (bpf_probe_read_kernel(n, sizeof(n), name)) return 0;
  bool ssl = n[0] == 'l' && n[1] == 'i' && n[2] == 'b' && n[3] == 's' && n[4] == 's' &&
             n[5] == 'l' && n[6] == '.' && n[7] == 's' && n[8] == 'o';
  bool gnutls = n[0] == 'l' && n[1] == 'i' && n[2] == 'b' && n[3] == 'g' && n[4] == 'n' &&
                n[5] == 'u' && n[6] == 't' && n[7] == 'l' && n[8] == 's' && n[9] == '.' &&
                n[10] == 's' && n[11] == 'o';
  if (!ssl && !gnutls) return 0;
  struct scratch *s = get_scratch();
  if (!s) return 0;
  struct rein_tls_lib *e = (struct rein_tls_lib *)s->rec;
  struct path_req r = {.dentry = fk->f_path.dentry, .mnt = fk->f_path.mnt,
                       .tflag = REIN_F_PATH_TRUNCATED};
  __u32 len = put_path(s, sizeof(*e), &r);
  __u32 size = sizeof(*e) + len;
  fill_hdr(&e->h, REIN_REC_TLS_LIB, size);
  e->path_len = len;
  e->_pad0 = 0;
  e->_pad1 = 0;
  count(REIN_CTR_TLS_LIB_OPENS);
  emit_urgent(e, size & REIN_REC_MASK);
  return 0;
}

#endif
