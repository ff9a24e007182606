#!/usr/bin/env python3
"""Kubernetes identity on the node, without an API server: a fake kubepods cgroup hierarchy
(systemd-driver and cgroupfs-driver layouts) and a fake kubelet log tree (--k8s-log-root);
real processes placed in the container cgroups exec and write a file, and their events carry
the pod's namespace, name, UID and container name. A pod without a log tree gets its UID
only, and a process outside kubepods gets no k8s identity at all."""
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import k8sfake as kf  # noqa: E402

rh.require_bpf()
tag = uuid.uuid4().hex[:10]
base = rh.workdir("rein-k8s-")
log_root = rh.workdir("rein-k8s-log-")

cg_mount = kf.cgroup2_mount()


def uid():
    return str(uuid.uuid4())


def cid():
    return uuid.uuid4().hex + uuid.uuid4().hex  # 64 lower-case hex


# Our own subtree, so nothing a real kubelet made on this host is touched.
top = f"/rein-e2e-k8s-{tag}"
uid_a, id_a, id_a2 = uid(), cid(), cid()
uid_b, id_b = uid(), cid()
uid_c, id_c = uid(), cid()
leaf_a = (f"{top}/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
          f"{uid_a.replace('-', '_')}.slice/cri-containerd-{id_a}.scope")
leaf_b = f"{top}/kubepods/besteffort/pod{uid_b}/{id_b}"  # cgroupfs driver
leaf_c = f"{top}/kubepods/burstable/pod{uid_c}/{id_c}"   # a pod with no log tree
leaf_n = f"{top}/plain"                                   # not a pod
leaves = {"a": leaf_a, "b": leaf_b, "c": leaf_c, "n": leaf_n}

# kubelet's log tree. Pod A has two containers, told apart only by the links; pod B has one
# container directory and no link (a runtime that does not make them).
# the sidecar's link first in name order would not matter; both are there
kf.container_log(log_root, "team-a", "agent-7f9c", uid_a, "agent", id_a)
kf.container_log(log_root, "team-a", "agent-7f9c", uid_a, "sidecar", id_a2)
kf.container_log(log_root, "team-b", "worker-0", uid_b, "main")

made = []  # cgroup directories we created, parents first
procs = []
events = None
try:
    kf.make_cgroups(cg_mount, leaves.values(), made)

    with rh.Sensor(["--agent-cgroup", top, "--k8s-log-root", log_root]) as s:
        for key, leaf in leaves.items():
            p = subprocess.Popen(["/bin/sh", "-c", f"echo {key} > {base}/{key}.txt; /bin/true"],
                                 preexec_fn=kf.into_cgroup(cg_mount, leaf))
            procs.append(p)
        for p in procs:
            rh.check(p.wait(30) == 0, f"workload exited {p.returncode}")
        for key in leaves:
            s.wait_for(lambda e, key=key: e.get("type") == "file.mutation"
                       and e.get("path") == f"{base}/{key}.txt", f"write of {key}.txt")
        events = s.stop()
finally:
    rh.kill_all(procs)
    kf.remove_cgroups(made)

evs = [e for e in events if e["type"] != "sensor.health"]


def of(key):
    """process.exec and file.mutation events of the processes put in leaf `key`."""
    return [e for e in evs if e["process"].get("cgroup") == leaves[key]
            and e["type"] in ("process.exec", "file.mutation")]


for key in leaves:
    es = of(key)
    types = {e["type"] for e in es}
    rh.check(types == {"process.exec", "file.mutation"}, f"{key}: event types {types}: {es}")
    writes = [e for e in es if e["type"] == "file.mutation" and e["path"] == f"{base}/{key}.txt"]
    rh.check(writes, f"{key}: no write event: {es}")
    # /bin/true, exec'd by the shell, is a process.exec of its own
    rh.check(any(e["type"] == "process.exec" and e["process"]["exe"] == "/bin/true"
                 or e["type"] == "process.exec" and e["process"]["exe"] == "/usr/bin/true"
                 for e in es), f"{key}: no exec of true: {es}")

want = {
    "a": {"namespace": "team-a", "pod": "agent-7f9c", "pod_uid": uid_a, "container": "agent"},
    "b": {"namespace": "team-b", "pod": "worker-0", "pod_uid": uid_b, "container": "main"},
    "c": {"pod_uid": uid_c},  # nothing more is known: nothing more is said
    "n": None,
}
want_container_id = {"a": id_a, "b": id_b, "c": id_c, "n": None}
for key, k8s in want.items():
    for e in of(key):
        rh.check(e["process"].get("k8s", "absent") == k8s,
                 f"{key}: {e['type']} k8s {e['process'].get('k8s', 'absent')} != {k8s}")
        rh.check(e["process"]["container_id"] == want_container_id[key],
                 f"{key}: container_id {e['process']['container_id']}")

print(f"PASS: {len(evs)} events")
