#!/usr/bin/env python3
"""Selectors on the real kernel: processes running before the sensor (--agent-pid, and an
--agent-exe match found in /proc) are adopted with their existing children; --agent-cmdline
picks a process by argv; --agent-cgroup picks processes started in a cgroup."""
import os
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402

rh.require_bpf()
tag = uuid.uuid4().hex[:10]
base = rh.workdir("rein-sel-")
go = os.path.join(base, "go")

# Two long-running processes started before the sensor; each already has a child.
PRE = r'''
import os, sys, time
go, out = sys.argv[1], sys.argv[2]
child = os.fork()
while not os.path.exists(go):
    time.sleep(0.02)
with open(out + (".child" if child == 0 else ".parent"), "w") as f:
    f.write("x")
if child == 0:
    os._exit(0)
os.waitpid(child, 0)
'''
pre_script = os.path.join(base, "pre.py")
with open(pre_script, "w") as f:
    f.write(PRE)
by_exe_name = f"preexe_{tag}"
by_exe = os.path.join(base, by_exe_name)
shutil.copy("/usr/bin/python3", by_exe)
pre_pid = subprocess.Popen(["/usr/bin/python3", pre_script, go, os.path.join(base, "pid")])
pre_exe = subprocess.Popen([by_exe, pre_script, go, os.path.join(base, "exe")])


def release_and_kill(procs):
    """The pre-started processes' children wait for `go`: without it they would outlive us."""
    open(go, "a").close()
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


# both have forked their child (the fork is what the sensor must adopt)
for p in (pre_pid, pre_exe):
    deadline = time.time() + 30
    while True:
        with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
            if f.read().strip():
                break
        if time.time() > deadline:
            release_and_kill([pre_pid, pre_exe])
            rh.fail(f"pre-started process {p.pid} has no child after 30 s")
        time.sleep(0.02)

# A cgroup of our own under the cgroup v2 mount.
cg_mount = None
with open("/proc/mounts") as f:
    for line in f:
        parts = line.split()
        if parts[2] == "cgroup2":
            cg_mount = parts[1]
            break
rh.check(cg_mount, "no cgroup2 mount")
cg_rel = f"/rein-e2e-{tag}"
cg_dir = cg_mount + cg_rel
os.mkdir(cg_dir)

marker = f"marker-{tag}"
try:
    with rh.Sensor(["--no-default-agents", "--agent-pid", str(pre_pid.pid),
                    "--agent-exe", by_exe_name, "--agent-cmdline", f"sh -c .* {marker}$",
                    "--agent-cgroup", cg_rel]) as s:
        open(go, "w").close()
        pre_pid.wait(30)
        pre_exe.wait(30)
        # argv selector: the shell writes only once the sensor has said it took it as an
        # agent (its exec event), so the write cannot come before the match
        sh = subprocess.Popen(["/bin/sh", "-c", f"read _; echo argv > {base}/argv.txt", marker],
                              stdin=subprocess.PIPE, text=True)
        s.wait_for(lambda e: e["type"] == "process.exec" and marker in e["process"]["args"]
                   and e.get("new_agent"), "the argv-selected shell's exec")
        sh.communicate("\n", timeout=30)
        rh.check(sh.returncode == 0, f"argv-selected shell exited {sh.returncode}")

        def into_cgroup():
            with open(os.path.join(cg_dir, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        cgp = subprocess.Popen(["/bin/sh", "-c", f"echo cg > {base}/cg.txt"],
                               preexec_fn=into_cgroup)
        cgp.wait(30)
        # an untracked process doing the same in the same directory
        subprocess.run(["/bin/sh", "-c", f"echo no > {base}/untracked.txt"], check=True)
        s.fence()
        events = s.stop()
finally:
    release_and_kill([pre_pid, pre_exe])
    for _ in range(50):
        try:
            os.rmdir(cg_dir)
            break
        except OSError:
            time.sleep(0.1)

evs = [e for e in events if e["type"] != "sensor.health"]


def creates(path):
    return [e for e in evs if e["type"] == "file.mutation" and e["op"] == "create" and e["path"] == path]


# pre-existing by pid: adopted with its child; both files seen, attributed to that agent
existing = [e for e in evs if e["type"] == "process.exec" and e["existing"]]
pids = {e["process"]["pid"] for e in existing}
rh.check(pre_pid.pid in pids and pre_exe.pid in pids, f"adopted {pids}")
for prefix, root in (("pid", pre_pid.pid), ("exe", pre_exe.pid)):
    for who in ("parent", "child"):
        c = creates(os.path.join(base, f"{prefix}.{who}"))
        rh.check(len(c) == 1, f"{prefix}.{who} created once: {c}")
        rh.check(c[0]["agent"]["root_pid"] == root, f"agent of {prefix}.{who}: {c[0]['agent']}")
        if who == "child":
            rh.check(c[0]["process"]["ppid"] == root, f"child's ppid {c[0]['process']}")
root_exec = [e for e in existing if e["process"]["pid"] == pre_exe.pid][0]
rh.check(root_exec["agent"]["name"] == by_exe_name and root_exec["new_agent"], f"{root_exec}")
rh.check(os.path.basename(root_exec["process"]["exe"]) == by_exe_name, f"exe {root_exec}")

# argv selector
a = creates(f"{base}/argv.txt")
rh.check(len(a) == 1 and a[0]["agent"] is not None, f"argv-selected write: {a}")
ax = [e for e in evs if e["type"] == "process.exec" and marker in e["process"]["args"]]
rh.check(len(ax) == 1 and ax[0]["new_agent"], f"argv exec: {ax}")

# cgroup selector
c = creates(f"{base}/cg.txt")
rh.check(len(c) == 1, f"cgroup-selected write: {c}")
rh.check(c[0]["process"]["cgroup"] == cg_rel, f"cgroup path {c[0]['process']}")

rh.check(not creates(f"{base}/untracked.txt"), "untracked process reported")
print(f"PASS: {len(evs)} events")
