#!/usr/bin/env python3
"""Enforcement cost for untracked processes: the same untracked workloads (open/write/close
on tmpfs; TCP connects on loopback, which pass the cgroup connect hook) with the sensor
running without a policy and with a 50-rule policy loaded, alternating, in one run; median
ratios. Prints figures only."""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import reinharness as rh  # noqa: E402

rh.require_bpf()
work = os.environ.get("REIN_BENCH_WORKLOAD")
rh.check(work and os.path.exists(work), f"REIN_BENCH_WORKLOAD missing: {work}")
reps = int(os.environ.get("REIN_BENCH_REPS", "3"))
base = rh.workdir("rein-polbench-", "/dev/shm")
exe = os.path.join(base, "untracked_workload")
shutil.copy(work, exe)

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(512)
port = listener.getsockname()[1]
stop = False


def accept_loop():
    listener.settimeout(0.2)
    while not stop:
        try:
            c, _ = listener.accept()
            c.close()
        except OSError:
            pass


t = threading.Thread(target=accept_loop, daemon=True)
t.start()

rules = []
for i in range(20):
    rules.append(f"  - name: file{i}\n    action: deny\n    file:\n      paths: [\"/srv/protected{i}/**\", \"**/secret{i}.key\"]")
for i in range(15):
    rules.append(f"  - name: net{i}\n    action: deny\n    network:\n      cidrs: [\"10.{i}.0.0/16\"]\n      ports: [443, \"8000-8100\"]")
for i in range(10):
    rules.append(f"  - name: exec{i}\n    action: deny\n    exec:\n      paths: [\"/usr/local/bin/tool{i}\"]")
for i in range(5):
    rules.append(f"  - name: host{i}\n    action: deny\n    network:\n      hosts: [\"blocked{i}.example.com\"]")
policy = os.path.join(base, "policy.yaml")
with open(policy, "w") as f:
    f.write("apiVersion: rein/v1\nagents:\n  - name: bench\n    exe: [bench_agent_x]\nrules:\n" + "\n".join(rules) + "\n")
rh.check(len(rules) == 50, "50 rules")

cases = {"openwrite": ["openwrite", "200000", base], "connect": ["connect", "20000", str(port)]}


def timed(args):
    out = subprocess.run([exe] + args, capture_output=True, text=True, check=True, timeout=600)
    return float(out.stdout.strip())


ratios = {k: [] for k in cases}
try:
    for rep in range(reps):
        times = {}
        for label, extra in (("none", []), ("policy", ["--policy", policy])):
            s = rh.Sensor(["--no-default-agents", "--agent-exe", "bench_agent_x",
                           "--control-socket", os.path.join(base, "ctl.sock")] + extra, health_interval=0)
            try:
                times[label] = {k: timed(v) for k, v in cases.items()}
                s.stop()
            finally:
                s.__exit__()
        for k in cases:
            ratios[k].append(times["policy"][k] / times["none"][k])
        print(f"rep {rep + 1}/{reps}: " + ", ".join(f"{k} {times['policy'][k] / times['none'][k]:.3f}x"
                                                    for k in cases), flush=True)
finally:
    stop = True
    t.join(2)
    listener.close()
    shutil.rmtree(base, ignore_errors=True)
print("\nuntracked processes, 50-rule policy vs no policy (sensor running in both, same run):")
for k, v in ratios.items():
    print(f"  {k:10s} median {statistics.median(v):.3f}x (min {min(v):.3f}, max {max(v):.3f})")
