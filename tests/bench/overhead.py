#!/usr/bin/env python3
"""Overhead of the running sensor as a ratio against the same workload without it, in one
run, median of several repetitions (alternating without/with so drift hits both):
  (a) an untracked process in a tight open/write/close loop on tmpfs
  (b) the same process tracked
  (c) a fork+exec storm, untracked and tracked
and (a) once more with do-nothing programs on the sensor's two syscall tracepoints instead of
the sensor (tests/bench/bare_syscalls.bpf.c): the floor that any program there sets.
Also the sensor's RSS and CPU during (b), and, from one more run of (b) with BPF run
statistics on, the time rein's programs take per iteration against the loop's own time.
Prints figures; timing never fails the test."""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import reinharness as rh  # noqa: E402

rh.require_bpf()
work = os.environ.get("REIN_BENCH_WORKLOAD")
reps = int(os.environ.get("REIN_BENCH_REPS", "3"))
n_ow = int(os.environ.get("REIN_BENCH_OPENWRITE", "120000"))
n_fe = int(os.environ.get("REIN_BENCH_FORKEXEC", "600"))
rh.check(work and os.path.exists(work), f"REIN_BENCH_WORKLOAD missing: {work}")
bare_hooks = os.environ.get("REIN_BENCH_BARE_HOOKS")
rh.check(bare_hooks and os.path.exists(bare_hooks), f"REIN_BENCH_BARE_HOOKS missing: {bare_hooks}")
base = rh.workdir("rein-bench-", "/dev/shm")
untracked = os.path.join(base, "bench_plain")
tracked_name = "bench_tracked"
tracked = os.path.join(base, tracked_name)
shutil.copy(work, untracked)
shutil.copy(work, tracked)


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


last_cpu = [0.0]  # CPU seconds (user + system) of the last timed() run


def timed(exe, *args):
    # The workload's own CPU time as well as its wall time: the kernel programs run on its
    # CPU, so this ratio shows their cost even while other load on this small VM skews the
    # wall clock (the sensor's own CPU is reported apart). Only this child is reaped in
    # between, so the difference is its time.
    c0 = children_cpu()
    p = subprocess.Popen([exe, *args], stdout=subprocess.PIPE, text=True)
    try:
        out, _ = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    last_cpu[0] = children_cpu() - c0
    rh.check(p.returncode == 0, f"{exe} {args} exited {p.returncode}")
    return float(out.strip())


cases = {
    "a_untracked_openwrite": (untracked, "openwrite", str(n_ow), base),
    "b_tracked_openwrite": (tracked, "openwrite", str(n_ow), base),
    "c_untracked_forkexec": (untracked, "forkexec", str(n_fe)),
    "c_tracked_forkexec": (tracked, "forkexec", str(n_fe)),
}
ratios = {k: [] for k in cases}
cpu_ratios = {k: [] for k in cases}  # the workload's CPU time with / without
rss_kb, cpu_frac = [], []
off_ow = []  # seconds of (b)'s loop without the sensor, per rep
floor = []  # (a) with the do-nothing programs / (a) without, per rep


def with_bare_hooks(fn):
    """fn() while bare_syscalls.bpf.c's programs are attached (and nothing else of ours)."""
    h = subprocess.Popen([bare_hooks], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        rh.check(h.stdout.readline().strip() == "ready", "rein_bench_bare_hooks did not attach")
        return fn()
    finally:
        h.stdin.close()
        h.wait(timeout=30)


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


for rep in range(reps):
    off, off_cpu = {}, {}
    for k, v in cases.items():
        off[k] = timed(*v)
        off_cpu[k] = last_cpu[0]
    off_ow.append(off["b_tracked_openwrite"])
    floor.append(with_bare_hooks(lambda: timed(*cases["a_untracked_openwrite"]))
                 / off["a_untracked_openwrite"])
    s = rh.Sensor(["--no-default-agents", "--agent-exe", tracked_name], health_interval=0)
    try:
        on = {}
        for k, v in cases.items():
            c0, t0 = proc_cpu(s.pid()), time.time()
            on[k] = timed(*v)
            cpu_ratios[k].append(last_cpu[0] / max(off_cpu[k], 1e-3))
            if k == "b_tracked_openwrite":
                cpu_frac.append((proc_cpu(s.pid()) - c0) / (time.time() - t0))
                rss_kb.append(proc_rss(s.pid()))
        events = s.stop()
    finally:
        s.__exit__()
    for k in cases:
        ratios[k].append(on[k] / off[k])
    kernel = rh.health(events, "stopped")[-1]["kernel"]
    writes = [e for e in events if e["type"] == "file.mutation" and e["op"] == "write"]
    rh.check(len(writes) >= n_ow - kernel["drop_ringbuf_full"],
             f"tracked run reported {len(writes)} writes of {n_ow}")
    print(f"rep {rep + 1}/{reps}: " + ", ".join(f"{k} {on[k] / off[k]:.3f}x" for k in cases)
          + f", a with do-nothing programs {floor[-1]:.3f}x; drops {kernel['drop_ringbuf_full']}",
          flush=True)

# (b) once more with BPF run statistics on (they cost a clock read per program run, so not
# in the timed reps): how much of the added time per iteration is rein's programs. The counts
# are of every process (the loop makes nearly all syscalls meanwhile).
SYS_PROGS = ("rein_sys_enter", "rein_sys_exit")
s = rh.Sensor(["--no-default-agents", "--agent-exe", tracked_name], health_interval=0)
try:
    with rh.bpf_stats():
        before = rh.bpf_prog_runs(SYS_PROGS)
        timed(tracked, "openwrite", str(n_ow), base)
        after = rh.bpf_prog_runs(SYS_PROGS)
    s.stop()
finally:
    s.__exit__()
prog = {n: [(b - a) / n_ow for a, b in zip(before[n], after[n])] for n in SYS_PROGS}
rh.check(all(runs >= 3 for runs, _ in prog.values()), f"syscall program runs per iteration: {prog}")
base_ns = statistics.median(off_ow) / n_ow * 1e9

shutil.rmtree(base, ignore_errors=True)
print("\nsensor overhead (median ratio with/without, same run):")
targets = {"a_untracked_openwrite": 1.05, "b_tracked_openwrite": 1.25}
for k, v in ratios.items():
    t = targets.get(k)
    print(f"  {k:24s} {statistics.median(v):.3f}x  (min {min(v):.3f}, max {max(v):.3f})"
          + (f"  target <= {t}x" if t else ""))
print(f"  {'(a) do-nothing programs':24s} {statistics.median(floor):.3f}x  (min {min(floor):.3f}, "
      f"max {max(floor):.3f})  the floor: tp_btf sys_enter/sys_exit programs that return at once")
print("workload CPU time (user + system) with / without, median (min, max):")
for k, v in cpu_ratios.items():
    print(f"  {k:24s} {statistics.median(v):.3f}x  (min {min(v):.3f}, max {max(v):.3f})")
print(f"  sensor during (b): RSS {statistics.median(rss_kb) / 1024:.1f} MiB, "
      f"CPU {statistics.median(cpu_frac) * 100:.1f}% of one core")
print(f"  workload sizes: openwrite {n_ow} iterations, forkexec {n_fe} processes, {reps} reps")
prog_ns = sum(ns for _, ns in prog.values())
print(f"rein's syscall programs in (b), BPF run statistics, per iteration: "
      + ", ".join(f"{n} {runs:.2f} runs {ns:.0f} ns ({ns / max(runs, 1e-9):.0f} ns/run)"
                  for n, (runs, ns) in prog.items())
      + f"; {prog_ns:.0f} ns of the loop's {base_ns:.0f} ns per iteration without the sensor "
      f"= {prog_ns / base_ns * 100:.1f}% (the rest of the added time is the syscall tracepoints' "
      f"own path, which (a) pays too)")
