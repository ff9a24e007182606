/* File rules matched on what a path cannot hide: the directories' inodes.
 *
 * A path is only one view of a file. A bind mount of /srv/prot at /tmp/view, a chroot or a
 * mount namespace shows the same directory under another name, and the walked path then
 * misses a deny on /srv/prot. User space puts the (dev, ino) of every directory named by a
 * PREFIX-double-star rule into rule_inodes at policy load; a walk up the changed object's dentries
 * (crossing mounts, and not stopping at the task's root, so a chroot hides nothing) that
 * meets one of them matches that rule, whatever the path looked like.
 *
 * A file named by an exact-path rule has its own entry, met at the walk's first step. A hard
 * link is another name for the same inode, in any directory of the filesystem: a file with
 * more than one link is also walked up from each of its other names the dentry cache holds
 * (up to REIN_LINK_ALIASES), so `ln DIR/prot/f /tmp/x` (which kills the linker, but the link
 * stays) does not leave /tmp/x writable to the agent's other processes. */
#ifndef REIN_INODE_RULES_BPF_H
#define REIN_INODE_RULES_BPF_H

#include "path.bpf.h"
#include "policy.bpf.h"

/* (dev, ino) of a rule's directory -> the rule (action, scope, ops as in policy_fpath). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, REIN_RULE_INODES_MAX);
  __type(key, struct rein_inode_key);
  __type(value, struct rein_rule);
} rule_inodes SEC(".maps");

/* Entries in rule_inodes (0: skip the walk). Written by user space. */
volatile __u32 inode_rules_n = 0;

#define REIN_LINK_ALIASES 4
#define REIN_S_IFDIR 0040000

struct inode_walk {
  struct dentry *d;
  struct mount *mnt;
  void *mnt_root;
  struct dentry *origin;    /* where the walk began (the file as opened) */
  struct mount *origin_mnt;
  void *origin_mnt_root;
  struct hlist_node *alias; /* the file's next other name to walk from, or NULL */
  __u32 aliases_left;
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

/* The walk from one name met no rule: go on from the file's next other name (a hard link)
 * in the dentry cache, from the same mount. 1 = no name left. The origin is itself on the
 * list: skipped, and it can be met only once. */
static __always_inline long next_alias(struct inode_walk *w) {
  for (int i = 0; i < 2; i++) {
    if (!w->alias || !w->aliases_left) return 1;
    struct dentry *d =
        (struct dentry *)((char *)w->alias - bpf_core_field_offset(struct dentry, d_u.d_alias));
    w->alias = KREAD_PTR(struct hlist_node, w->alias)->next;
    w->aliases_left--;
    if ((void *)d == (void *)w->origin) continue;
    w->d = d;
    w->mnt = w->origin_mnt;
    w->mnt_root = w->origin_mnt_root;
    return 0;
  }
  return 1;
}

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
    if ((void *)parent == (void *)w->mnt) return next_alias(w); /* top of the mount tree */
    w->d = m->mnt_mountpoint;
    w->mnt = parent;
    w->mnt_root = parent->mnt.mnt_root;
    return 0;
  }
  struct dentry *up = d->d_parent;
  if (!up || (void *)up == (void *)w->d) return next_alias(w);
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
  w->origin = dentry;
  w->origin_mnt = w->mnt;
  w->origin_mnt_root = w->mnt_root;
  w->alias = NULL;
  w->aliases_left = 0;
  struct inode *ino = KREAD_PTR(struct dentry, dentry)->d_inode;
  if (ino) {
    struct inode *ik = KREAD_PTR(struct inode, ino);
    if ((ik->i_mode & 0170000) != REIN_S_IFDIR && ik->__i_nlink > 1) {
      w->alias = ik->i_dentry.first;
      w->aliases_left = REIN_LINK_ALIASES + 1; /* + the origin, on the list too */
    }
  }
  bpf_loop(REIN_WALK_DEPTH * (REIN_LINK_ALIASES + 1), inode_step, NULL, 0);
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
