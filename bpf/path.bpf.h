/* Absolute paths from the dentry chain, assembled in the kernel.
 *
 * The walk follows d_parent up to the mount root, then crosses into the parent mount at
 * its mountpoint, and stops at the calling task's root (so a containerised process gets
 * paths as it sees them in its own mount namespace and chroot). It writes backwards from
 * the end of scratch->walk. bpf_loop keeps the verifier cost of the walk independent of
 * its depth. */
#ifndef REIN_PATH_BPF_H
#define REIN_PATH_BPF_H

#include "common.bpf.h"

#define REIN_WALK_DEPTH 96
#define REIN_REC_MASK 16383

static struct mount *real_mount(struct vfsmount *m) {
  return (struct mount *)((void *)m - bpf_core_field_offset(struct mount, mnt));
}


/* A component's name into walk[pos, pos + len), eight bytes per load and store from the
 * end back, instead of a probe-read helper call per component (the calls were about 40% of
 * the walk of a tracked open). The name pointer is untrusted memory: each load is a
 * fault-checked one. The first chunk may start up to 7 bytes before pos, in the buffer's
 * free space that the next component or '/' overwrites, and read up to 7 bytes before the
 * name, inside its dentry (a short name) or its external_name allocation (a header comes
 * first). Names up to REIN_NAME_CHUNKS * 8 bytes, most of them: unrolled, since a loop
 * over every chunk of a 255-byte name made the verifier's work at each of the walk's
 * call sites long enough to add 1.4 s to the sensor's start. */
#define REIN_NAME_CHUNKS 4
static __always_inline void copy_name_back(struct scratch *s, __s64 pos, const unsigned char *name,
                                           __u32 len) {
#pragma unroll
  for (int i = 0; i < REIN_NAME_CHUNKS; i++) {
    __s64 o = (__s64)len - 8 * (i + 1);
    if (o <= -8) break;
    __u64 v = *(const __u64 *)(name + o);
    *(__u64 *)&s->walk[(pos + o) & REIN_PATH_MASK] = v;
  }
}

static long walk_step(__u32 i, void *unused) {
  struct scratch *s = get_scratch();
  if (!s) return 1;
  struct walk_state *c = &s->ws;
  void *d = c->dentry;
  if (d == c->root_dentry && c->vfsmnt == c->root_mnt) {
    c->done = 1;
    return 1;
  }
  if (d == c->mnt_root) {
    struct mount *m = KREAD_PTR(struct mount, c->mnt);
    struct mount *parent = m->mnt_parent;
    if ((void *)parent == c->mnt) { /* top of this mount namespace */
      c->done = 1;
      return 1;
    }
    c->dentry = m->mnt_mountpoint;
    c->mnt = parent;
    c->vfsmnt = &parent->mnt;
    c->mnt_root = parent->mnt.mnt_root;
    return 0;
  }
  struct dentry *dk = KREAD_PTR(struct dentry, d);
  struct dentry *up = dk->d_parent;
  if (!up) { /* the load faulted: not a dentry we can follow */
    c->truncated = 1;
    return 1;
  }
  /* A dentry that is its own parent below its mount's root is in no directory: a memfd's
   * or another pseudo file's. Its name is the path ("/memfd:NAME"), not "/". */
  const bool top = (void *)up == d;
  __u32 len = dk->d_name.len;
  const unsigned char *name = dk->d_name.name;
  if (len > 255) len = 255;
  __s64 pos = c->pos;
  /* keep one byte free at the front so a full walk is never exactly REIN_PATH_MAX long */
  if (pos - (__s64)len - 1 < 1) {
    c->truncated = 1;
    return 1;
  }
  pos -= len;
  /* the state first: nothing has to live across the copy (the walk's callback frame is
   * part of the deepest call chains' stack) */
  c->pos = pos - 1;
  c->dentry = up;
  c->done = top;
  if (pos >= 8 && len <= REIN_NAME_CHUNKS * 8)
    copy_name_back(s, pos, name, len);
  else /* a long name, or a first chunk that would spill below the buffer: one helper call */
    bpf_probe_read_kernel(&s->walk[pos & REIN_PATH_MASK], len & 255, name);
  /* after the copy, whose first chunk may have run over this byte */
  s->walk[c->pos & REIN_PATH_MASK] = '/';
  return c->done ? 1 : 0;
}

/* Walks (dentry, vfsmount) into s->walk; returns the start offset (REIN_PATH_MAX means the
 * path is the root itself). Sets *truncated when the walk was cut. */
static __always_inline __s64 walk_path(struct scratch *s, struct dentry *dentry,
                                       struct vfsmount *vfsmnt, __u32 *truncated) {
  struct task_struct *task = bpf_get_current_task_btf();
  struct walk_state *c = &s->ws;
  c->dentry = dentry;
  c->vfsmnt = vfsmnt;
  c->mnt = real_mount(vfsmnt);
  c->mnt_root = KREAD_PTR(struct vfsmount, vfsmnt)->mnt_root;
  c->root_dentry = task->fs->root.dentry;
  c->root_mnt = task->fs->root.mnt;
  c->pos = REIN_PATH_MAX;
  c->done = 0;
  c->truncated = 0;
  bpf_loop(REIN_WALK_DEPTH, walk_step, NULL, 0);
  if (c->truncated || !c->done) *truncated = 1;
  return c->pos;
}

/* What put_path appends: the absolute path of (dentry, mnt), then "/" and the first `ulen`
 * bytes of s->ustr when ulen > 0. With no dentry the caller's string is taken as given. */
struct path_req {
  struct dentry *dentry;
  struct vfsmount *mnt;
  __s32 ulen;
  __u32 tflag; /* flag to set in `flags` when the path is truncated */
  __u32 flags; /* in/out: record flags */
  __u32 _pad;
};

/* Appends to s->rec at `off`; returns the bytes written. When the result would not fit
 * REIN_PATH_MAX only the caller's string is kept and the truncation flag is set: cut
 * paths are flagged, never silent. */
static __noinline __u32 put_path(struct scratch *s, __u32 off, struct path_req *r) {
  __u32 trunc = 0;
  __s64 pos = REIN_PATH_MAX;
  __s32 ulen = r->ulen;
  off &= REIN_REC_MASK;
  if (!r->dentry || !r->mnt) {
    if (ulen <= 0) return 0;
    bpf_probe_read_kernel(&s->rec[off & REIN_REC_MASK], ulen & REIN_PATH_MASK, s->ustr);
    return ulen & REIN_PATH_MASK;
  }
  pos = walk_path(s, r->dentry, r->mnt, &trunc);
  __u32 wlen = REIN_PATH_MAX - pos;
  if (ulen <= 0) {
    if (wlen == 0) {
      s->rec[off & REIN_REC_MASK] = '/';
      wlen = 1;
    } else {
      bpf_probe_read_kernel(&s->rec[off & REIN_REC_MASK], wlen & REIN_PATH_MASK,
                            &s->walk[pos & REIN_PATH_MASK]);
    }
    if (trunc) {
      r->flags |= r->tflag;
      count(REIN_CTR_PATH_TRUNCATED);
    }
    return wlen & REIN_PATH_MASK;
  }
  if (trunc || wlen + 1 + ulen > REIN_PATH_MAX - 1) {
    r->flags |= r->tflag;
    count(REIN_CTR_PATH_TRUNCATED);
    wlen = 0;
  }
  if (wlen) {
    bpf_probe_read_kernel(&s->rec[off & REIN_REC_MASK], wlen & REIN_PATH_MASK,
                          &s->walk[pos & REIN_PATH_MASK]);
  }
  s->rec[(off + wlen) & REIN_REC_MASK] = '/';
  bpf_probe_read_kernel(&s->rec[(off + wlen + 1) & REIN_REC_MASK], ulen & REIN_PATH_MASK,
                        s->ustr);
  return (wlen + 1 + ulen) & REIN_PATH_MASK;
}

/* The file behind a descriptor of the current task, or NULL. The task pointer from
 * bpf_get_current_task_btf is typed: the chain to the fd array is plain (fault-checked)
 * loads, not one probe-read helper call per step (it runs at every tracked write and
 * close). */
static __always_inline struct file *fd_file(int fd) {
  struct task_struct *task = bpf_get_current_task_btf();
  struct fdtable *fdt = task->files->fdt;
  if (fd < 0 || (unsigned int)fd >= fdt->max_fds) return NULL;
  struct file **arr = fdt->fd;
  struct file *f = NULL;
  bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
  return f;
}

#endif
