/* File rules matched on what a path cannot hide: the directories' inodes.
 *
 * A path is only one view of a file. A bind mount of /srv/prot at /tmp/view, a chroot or a
 * mount namespace shows the same directory under another name, and the walked path then
 * misses a deny on /srv/prot. User space puts the (dev, ino) of every directory named by a
 * PREFIX-double-star rule into rule_inodes at policy load; a walk up the changed object's dentries
 * (crossing mounts, and not stopping at the task's root, so a chroot hides nothing) that
 * meets one of them matches that rule, whatever the path looked like. */
#ifndef REIN_INODE_RULES_BPF_H
#define REIN_INODE_RULES_BPF_H

#include "path.bpf.h"
#include "policy.bpf.h"

/* (dev, ino) of a rule's directory -> the rule (action, scope, ops as in policy_fpath). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct rein_inode_key);
  __type(value, struct rein_rule);
} rule_inodes SEC(".maps");

/* Entries in rule_inodes (0: skip the walk). Written by user space. */
volatile __u32 inode_rules_n = 0;

struct inode_walk {
  struct dentry *d;
  struct mount *mnt;
  void *mnt_root;
  __u64 scope;
  __u32 op;
  __u32 hit;
  struct rein_rule rule;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct inode_walk);
} inode_walk_map SEC(".maps");

static long inode_step(__u32 i, void *unused) {
  __u32 zero = 0;
  struct inode_walk *w = bpf_map_lookup_elem(&inode_walk_map, &zero);
  if (!w) return 1;
  struct dentry *d = KREAD_PTR(struct dentry, w->d);
  struct inode *ino = d->d_inode;
  if (ino) {
    struct rein_inode_key k = {.ino = ino->i_ino, .dev = ino->i_sb->s_dev};
    struct rein_rule *r = bpf_map_lookup_elem(&rule_inodes, &k);
    if (r && (r->scope & w->scope) && (r->ops & (1u << w->op)) && r->action != REIN_ACT_NONE) {
      w->rule = *r;
      w->hit = 1;
      return 1;
    }
  }
  if ((void *)w->d == w->mnt_root) {
    struct mount *m = KREAD_PTR(struct mount, w->mnt);
    struct mount *parent = m->mnt_parent;
    if ((void *)parent == (void *)w->mnt) return 1; /* top of the mount tree */
    w->d = m->mnt_mountpoint;
    w->mnt = parent;
    w->mnt_root = parent->mnt.mnt_root;
    return 0;
  }
  struct dentry *up = d->d_parent;
  if (!up || (void *)up == (void *)w->d) return 1;
  w->d = up;
  return 0;
}

/* Does a rule directory sit above (or at) the file f? Fills *out like match_file. */
static __noinline int match_inode_dentry(struct dentry *dentry, struct vfsmount *vfsmnt,
                                         __u32 op, struct rein_rule *out) {
  if (!inode_rules_n || !dentry || !vfsmnt) return 0;
  __u32 zero = 0;
  struct inode_walk *w = bpf_map_lookup_elem(&inode_walk_map, &zero);
  if (!w) return 0;
  w->d = dentry;
  w->mnt = real_mount(vfsmnt);
  w->mnt_root = KREAD_PTR(struct vfsmount, vfsmnt)->mnt_root;
  w->scope = scope_bit(bpf_get_current_pid_tgid() >> 32);
  w->op = op & 31;
  w->hit = 0;
  bpf_loop(REIN_WALK_DEPTH, inode_step, NULL, 0);
  if (!w->hit) return 0;
  *out = w->rule;
  return 1;
}

static __always_inline int match_inode_file(struct file *f, __u32 op, struct rein_rule *out) {
  if (!inode_rules_n || !f) return 0;
  struct file *fk = KREAD_PTR(struct file, f);
  return match_inode_dentry(fk->f_path.dentry, fk->f_path.mnt, op, out);
}

#endif
