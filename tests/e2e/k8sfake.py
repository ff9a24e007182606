"""A fake Kubernetes node for the e2e tests: kubepods cgroups made under a private subtree of
the cgroup2 mount (nothing a real kubelet made is touched), processes started inside them,
and kubelet's log tree (--k8s-log-root) naming the pods and containers."""
import os
import sys
import time

import reinharness as rh


def cgroup2_mount():
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "cgroup2":
                return parts[1]
    rh.fail("no cgroup2 mount")


def make_cgroups(cg_mount, leaves, made):
    """Makes each leaf cgroup and its parents; `made` gets every directory made, parents
    first, as it is made (so remove_cgroups cleans up after a failure part-way)."""
    for leaf in leaves:
        parts = leaf.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = cg_mount + "/" + "/".join(parts[:i])
            if d not in made:
                os.mkdir(d)
                made.append(d)


def remove_cgroups(made):
    for d in reversed(made):  # leaves first
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:   # busy while its last process exits
                time.sleep(0.1)
        else:
            print(f"could not remove cgroup {d}", file=sys.stderr)


def into_cgroup(cg_mount, leaf):
    """A preexec_fn that moves the child into cgroup `leaf`."""
    procs_file = os.path.join(cg_mount + leaf, "cgroup.procs")

    def move():
        with open(procs_file, "w") as f:
            f.write(str(os.getpid()))
    return move


def container_log(log_root, ns, pod, pod_uid, ctr, ctr_id=None):
    """kubelet's pods/<ns>_<pod>_<uid>/<container>/0.log and, given the container id, the
    containers/<pod>_<ns>_<container>-<id>.log link to it (some runtimes make none)."""
    d = f"{log_root}/pods/{ns}_{pod}_{pod_uid}/{ctr}"
    os.makedirs(d)
    with open(f"{d}/0.log", "w") as f:
        f.write("log\n")
    if ctr_id:
        os.makedirs(f"{log_root}/containers", exist_ok=True)
        os.symlink(f"{d}/0.log", f"{log_root}/containers/{pod}_{ns}_{ctr}-{ctr_id}.log")
