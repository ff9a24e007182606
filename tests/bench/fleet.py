#!/usr/bin/env python3
"""Figures for running on every node (issue: a cheap sensor), printed, never pass/fail:
  - start to `ready`: wall time from exec to the "rein: ready" line, and idle RSS split into
    the ring-buffer mappings (kernel pages; the data area is mapped twice for wrap-around,
    so RSS counts it twice) and everything else;
  - event rate: tracked open/write/close generators on tmpfs, one per core, first paced to
    200k events/s in all (the issue's sustained rate), then as fast as they go: events the
    sensor wrote per second, drops by reason, sensor CPU per 100k events;
  - 10k tracked processes: sensor RSS and table size with 10,000 live tracked children.
The work is asserted: the events must be in the output, the children must be tracked."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import reinharness as rh  # noqa: E402

rh.require_bpf()
work = os.environ.get("REIN_BENCH_WORKLOAD")
rh.check(work and os.path.exists(work), f"REIN_BENCH_WORKLOAD missing: {work}")
n_gen = int(os.environ.get("REIN_BENCH_GEN_ITER", "300000"))
n_procs = int(os.environ.get("REIN_BENCH_PROCS", "10000"))
base = rh.workdir("rein-fleet-", "/dev/shm")
gen_name = "fleet_gen"
gen = os.path.join(base, gen_name)
shutil.copy(work, gen)


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def rss_split(pid):
    """(total RSS, RSS of BPF map mappings) in KiB, from smaps."""
    total = maps = 0
    name = ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                name = parts[5] if len(parts) > 5 else ""
            elif first == "Rss:":
                kb = int(line.split()[1])
                total += kb
                if name.startswith("anon_inode:bpf"):
                    maps += kb
    return total, maps


def last_health(path):
    """The newest sensor.health line of an output file, reading only its tail."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - (1 << 20)))
        lines = f.read().splitlines()
    for line in reversed(lines):
        if b'"sensor.health"' in line:
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def count_type(path, t):
    needle = f'"type":"{t}"'.encode()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            if needle in line:
                n += 1
    return n


def fence(s, timeout=60):
    """Two more sensor.health lines after this call (the second follows a whole drain that
    began after the call), read from the file's tail: the output is too big to parse whole."""
    seen = last_health(s.out)
    for _ in range(2):
        seen = wait_health(s, lambda h, prev=seen: prev is None or h.get("time") != prev.get("time"),
                           "a sensor.health line", timeout)
    return seen


def wait_health(s, pred, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = last_health(s.out)
        if h and pred(h):
            return h
        rh.check(s.proc.poll() is None, f"sensor exited while waiting for {what}")
        time.sleep(0.2)
    rh.fail(f"timed out waiting for {what}")


# ---- start to ready, idle memory ----
t0 = time.time()
s = rh.Sensor(["--no-default-agents", "--agent-exe", gen_name], health_interval=0.5)
ready_s = time.time() - t0
idle_total, idle_maps = rss_split(s.pid())

# ---- event rate ----
cores = os.cpu_count() or 2
PACED_TOTAL = 200000  # events/s over all generators
EVENTS_PER_ITER = 2  # file.mutation events per open(O_TRUNC)/write/close: the truncate, the write


def caught_up(h):
    # every record the kernel produced has been through the pipeline
    return h.get("pipeline", {}).get("records", 0) >= h.get("kernel", {}).get("records", 1)


def event_rate(n_iter, total_rate=0):
    """cores generators x n_iter open/write/close, paced to total_rate events/s in all (0: as
    fast as they go). Returns (events written, generator wall s, wall s until the pipeline
    caught up, sensor CPU s, drops by reason during this run)."""
    h0 = last_health(s.out) or {}
    drops0 = {n: v for n, v in h0.get("kernel", {}).items() if n.startswith("drop_")}
    writes0 = count_type(s.out, "file.mutation")
    cpu0 = proc_cpu(s.pid())
    t0 = time.time()
    extra = [str(total_rate / EVENTS_PER_ITER / cores)] if total_rate else []
    gens = [subprocess.Popen([gen, "openwrite", str(n_iter), base] + extra, stdout=subprocess.PIPE,
                             text=True) for _ in range(cores)]
    [g.communicate(timeout=900) for g in gens]
    rh.check(all(g.returncode == 0 for g in gens), "a generator failed")
    gen_wall = time.time() - t0
    # every generated write is reported at its close: wait until the pipeline has them all
    # (or the kernel says it dropped some)
    fence(s)
    wait_health(s, caught_up, "the pipeline to catch up with the kernel")
    done_wall = time.time() - t0
    fence(s)  # and the output written out past that point
    cpu = proc_cpu(s.pid()) - cpu0
    writes = count_type(s.out, "file.mutation") - writes0
    h = last_health(s.out)
    drops = {n: v - drops0.get(n, 0) for n, v in h.get("kernel", {}).items()
             if n.startswith("drop_") and v - drops0.get(n, 0)}
    # (n_iter - 1): a generator's first open creates the file, which is not a truncate
    rh.check(writes >= EVENTS_PER_ITER * cores * (n_iter - 1) - sum(drops.values()),
             f"{writes} file events for {cores * n_iter} generated open/write/close")
    return writes, gen_wall, done_wall, cpu, drops


paced = event_rate(n_gen // 2, PACED_TOTAL)
writes, gen_wall, done_wall, cpu, drops = event_rate(n_gen)
load_total, load_maps = rss_split(s.pid())

# ---- 10k tracked processes ----
t0 = time.time()
sl = subprocess.Popen([gen, "sleepers", str(n_procs)], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, text=True, start_new_session=True)
fork_s = float(sl.stdout.readline().strip() or "nan")
h = wait_health(s, lambda h: h.get("pipeline", {}).get("process_table_size", 0) >= n_procs,
                f"{n_procs} tracked children in the process table")
table = h["pipeline"]["process_table_size"]
fence(s)
many_total, many_maps = rss_split(s.pid())
forks = count_type(s.out, "process.fork")
sl.stdin.close()
sl.wait(timeout=120)
s.stop(parse=False)  # the output holds ~2M lines; what is counted was counted above
shutil.rmtree(base, ignore_errors=True)
rh.check(forks >= n_procs, f"{forks} process.fork events for {n_procs} children")

gen_rate = writes / gen_wall
print("\nfleet figures:")
print(f"  start to ready: {ready_s:.2f} s")
print(f"  idle RSS: {idle_total / 1024:.1f} MiB, of which ring buffer mappings "
      f"{idle_maps / 1024:.1f} MiB (kernel pages; the data area counts twice), "
      f"the rest {(idle_total - idle_maps) / 1024:.1f} MiB")
p_writes, p_wall, p_done, p_cpu, p_drops = paced
print(f"  paced to {PACED_TOTAL // 1000}k events/s: {cores} tracked generators x {n_gen // 2} "
      f"open/write/close: {p_writes} file events in {p_wall:.2f} s = {p_writes / p_wall / 1000:.0f}k "
      f"events/s, through the pipeline {p_done:.2f} s after the start; drops {p_drops or 0}; "
      f"sensor CPU {p_cpu:.2f} s = {p_cpu / (p_writes / 100000):.3f} s per 100k events")
print(f"  as fast as they go: {cores} tracked generators x {n_gen} open/write/close: {writes} file "
      f"events generated in {gen_wall:.2f} s = {gen_rate / 1000:.0f}k events/s, all through the "
      f"pipeline {done_wall:.2f} s after the start (health every 0.5 s); "
      f"drops {drops or 0}; sensor CPU {cpu:.2f} s = {cpu / (writes / 100000):.3f} s per 100k events")
print(f"  RSS under that load: {load_total / 1024:.1f} MiB (rest {(load_total - load_maps) / 1024:.1f} MiB)")
print(f"  {n_procs} tracked processes (forked in {fork_s:.2f} s, {forks} process.fork events): "
      f"RSS {many_total / 1024:.1f} MiB (rest {(many_total - many_maps) / 1024:.1f} MiB), "
      f"process table {table}")
