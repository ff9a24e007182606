#!/usr/bin/env python3
"""Cost of TLS capture, as ratios against the same workload without the sensor, in one run:
rounds of no rein / rein (default, per-process TLS hooks) / rein --tls-hooks system,
medians over the rounds. The workload is our own CPU-bound keep-alive HTTPS client
(tls_loop.py, TCP_NODELAY on both ends) against the mock server on loopback:
  untracked: GET /v1/models from a client no selector matches (it should cost ~nothing);
  tracked:   small streamed chat completions from the client selected with --agent-script,
             every one decoded into an llm.call.
Sensor CPU per 1000 calls (run time of all rein threads, /proc/PID/task/*/schedstat, from the
tracked client's start until its last llm.call is out; with --capture a second more, so the
writer's last block is in, less the idle rate), in each round: default (detections on),
`--no-detections`, and `--capture DIR`; the capture's size, compression ratio and
`rein replay` speed (issues 9 and 11).
Then the floor the hooks themselves set on the tracked loop: TLS hook hits per request
(BPF run counts, kernel.bpf_stats_enabled for one more tracked run) times what a bare kernel
uprobe costs on this machine (a tracefs uprobe event, no BPF, on a function that begins like
the OpenSSL functions rein hooks), against the bare loop's time per request.
Then the time from exec to TLS hooks for the real agent binaries and node, cold (empty plan
cache) and warm. Prints figures; asserts only that the work was done."""
import atexit
import glob
import json
import mmap
import os
import re
import resource
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
N = int(os.environ.get("REIN_BENCH_LLM_REQUESTS", "2000"))
ROUNDS = int(os.environ.get("REIN_BENCH_LLM_REPS", "3"))
LOOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls_loop.py")
work = rh.workdir("rein-bench-llm-")
plain = os.path.join(work, "plain_client.py")  # the same code under a name nobody selects
shutil.copy(LOOP, plain)
state = os.path.join(work, "state")  # one plan cache for the loops: hooks attach at exec
started = time.time()
mock = lh.MockServer(max_seconds=900, handshake_delay_ms=0)  # loops wait for their hooks
atexit.register(mock.stop)


def loop(script, kind, sensor=None, go=None):
    """One client run; returns (pid, requests/s). With a sensor, the client connects only
    after the sensor had time to hook it (plans cached: attached when the exec is read).
    go: called right before the client is told to start."""
    c = subprocess.Popen([lh.PY, script, str(mock.port), mock.ca, kind, str(N)], text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if sensor:
        time.sleep(0.5)
    if go:
        go()
    out, err = c.communicate("\n", timeout=300)
    rh.check(c.returncode == 0 and out.strip(), f"client failed: {err}")
    r = json.loads(out)
    rh.check(r["ok"] == N, f"{kind} loop: {r['ok']}/{N} requests succeeded: {err}")
    return c.pid, N / r["seconds"]


live = []
atexit.register(lambda: [s.__exit__() for s in live])  # a failed check leaves no sensor behind


def sensor(*args):
    live.append(rh.Sensor(["--no-default-agents", "--state-dir", state, *args], health_interval=0))
    return live[-1]


def finish(s, tracked_pid=None, untracked_pid=None, what=""):
    """Stop the sensor; check no drops, the tracked calls decoded, the untracked client unseen."""
    events = s.stop()
    s.__exit__()
    k = rh.health(events, "stopped")[-1]["kernel"]
    rh.check(k["drop_ringbuf_full"] == 0 and k["data_truncated"] == 0,
             f"{what}: drops {k['drop_ringbuf_full']}, truncated {k['data_truncated']}")
    of = lambda pid: [e for e in events if e.get("process", {}).get("pid") == pid]  # noqa: E731
    if untracked_pid:
        rh.check(not of(untracked_pid), f"{what}: untracked client has events: {of(untracked_pid)[:2]}")
    if tracked_pid:
        calls = [e for e in of(tracked_pid) if e["type"] == "llm.call"]
        rh.check(len(calls) == N, f"{what}: {len(calls)} llm.call events for {N} requests")
    return s.stderr()


def cpu_s(pid):
    """CPU time of a process, all its threads, in seconds: the sum of their schedstat run
    times (ns; /proc/PID/stat's utime+stime count 10 ms ticks, too coarse for the ~0.1-0.3 s
    a loop costs the sensor). rein's threads live as long as it does."""
    total = 0
    for t in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(t) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1e9


def minor_faults(pid):
    """Minor page faults of a process, all its threads (/proc/PID/task/*/stat field 10)."""
    total = 0
    for t in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            with open(t) as f:
                total += int(f.read().rsplit(")", 1)[1].split()[7])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def fault_cost_us(pages=8192):
    """CPU time of one minor fault here: first touches of fresh anonymous pages by this process
    (on a VM that shadows guest page tables this is far above bare metal)."""
    m = mmap.mmap(-1, pages * 4096)
    try:
        t0 = time.thread_time()
        for i in range(0, pages * 4096, 4096):
            m[i] = 1
        return (time.thread_time() - t0) / pages * 1e6
    finally:
        m.close()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


SETTLE_S = 1.1  # the capture writer writes a partly filled block every second


def tracked_cpu(s, settle=True):
    """The tracked loop under sensor s. Returns (client pid, requests/s, loop s, sensor CPU s
    from the client's start until its last llm.call is out, sensor CPU s per second in the
    SETTLE_S after that, settle s). The settle is idle for a sensor without --capture (its
    idle rate), and holds the capture writer's last block with it."""
    c0 = []
    pid, rate = loop(LOOP, "chat", s,
                     go=lambda: c0.append((cpu_s(s.pid()), minor_faults(s.pid()))))
    deadline = time.time() + 60
    while sum(1 for e in s.events() if e["type"] == "llm.call" and e["process"]["pid"] == pid) < N:
        rh.check(time.time() < deadline, "the tracked loop's llm.call events never all arrived")
        time.sleep(0.05)
    c1, t1 = cpu_s(s.pid()), time.monotonic()
    loop_faults[0] = minor_faults(s.pid()) - c0[0][1]
    c0 = [c0[0][0]]
    if not settle:
        return pid, rate, N / rate, c1 - c0[0], 0, 0
    time.sleep(SETTLE_S)
    c2, t2 = cpu_s(s.pid()), time.monotonic()
    return pid, rate, N / rate, c1 - c0[0], (c2 - c1) / (t2 - t1), t2 - t1



TRACEFS = "/sys/kernel/tracing"
WORKLOAD = os.environ.get("REIN_BENCH_WORKLOAD")


def file_offset(path, symbol):
    """File offset of a defined function: its address mapped through the LOAD segments."""
    nm = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    addr = int(next(ln.split()[0] for ln in nm.splitlines() if ln.endswith(f" T {symbol}")), 16)
    for ln in subprocess.run(["readelf", "-lW", path], capture_output=True, text=True,
                             check=True).stdout.splitlines():
        f = ln.split()
        if f and f[0] == "LOAD":
            off, vaddr, filesz = int(f[1], 16), int(f[2], 16), int(f[4], 16)
            if vaddr <= addr < vaddr + filesz:
                return addr - vaddr + off
    raise RuntimeError(f"{symbol} is in no LOAD segment of {path}")


def uprobe_cost(calls=200000, reps=5):
    """(us per hit of an entry uprobe, us per hit of entry + return probe, ns per call without)
    on rein_bench_hook_target: kernel trace uprobes, no BPF, best of `reps` runs each."""
    mounted = not os.path.exists(f"{TRACEFS}/uprobe_events")
    if mounted:
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], check=True)
    off = file_offset(WORKLOAD, "rein_bench_hook_target")

    def write(path, lines):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            for ln in lines:
                os.write(fd, (ln + "\n").encode())
        finally:
            os.close(fd)

    def enable(names, on):
        for n in names:
            write(f"{TRACEFS}/events/rein_floor/{n}/enable", ["1" if on else "0"])

    def timed():
        return min(float(subprocess.run([WORKLOAD, "calls", str(calls)], capture_output=True,
                                        text=True, check=True).stdout) for _ in range(reps))
    defined = False
    try:
        write(f"{TRACEFS}/uprobe_events",
              [f"p:rein_floor/entry {WORKLOAD}:{off:#x}", f"r:rein_floor/ret {WORKLOAD}:{off:#x}"])
        defined = True
        base = timed()
        enable(["entry"], True)
        entry = timed()
        enable(["ret"], True)
        both = timed()
        enable(["entry", "ret"], False)
    finally:
        if defined:
            write(f"{TRACEFS}/uprobe_events", ["-:rein_floor/entry", "-:rein_floor/ret"])
        if mounted:
            subprocess.run(["umount", TRACEFS], check=False)
    return (entry - base) / calls * 1e6, (both - base) / calls * 1e6, base / calls * 1e9


ENTRY_KINDS = {2: "context", 3: "record", 4: "tick", 5: "health", 6: "lookup", 7: "secret",
               8: "adopt", 9: "policy_reload", 10: "finish"}
RECORD_KINDS = {1: "exec", 2: "fork", 3: "exit", 4: "file", 5: "connect", 6: "dns",
                7: "file_open", 8: "file_close", 9: "data", 13: "tls_lib", 15: "connect_outcome"}


def varint(b, at):
    v = shift = 0
    while True:
        c = b[at]
        at += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, at


def decompress_block(tag, payload):
    """A block's entries: zlib ("RBLK", segments before format version 2) or zstd ("RBLZ",
    what the writer writes), with python3-zstandard if installed, else the zstd tool; None
    when neither is there."""
    if tag == b"RBLK":
        return zlib.decompress(payload)
    try:
        import zstandard
        return zstandard.ZstdDecompressor().decompress(payload)
    except ImportError:
        pass
    if not shutil.which("zstd"):
        return None
    return subprocess.run(["zstd", "-d", "-c", "-q"], input=payload, capture_output=True, check=True).stdout


def capture_breakdown(d):
    """Entry bytes (before compression) by entry kind, records by ring record kind; {} when
    the blocks cannot be decompressed here."""
    by = {}
    for seg in sorted(glob.glob(os.path.join(d, "segment-*.rcap"))):
        with open(seg, "rb") as f:
            b = f.read()
        at = 112
        while at + 16 <= len(b) and b[at:at + 4] in (b"RBLK", b"RBLZ"):
            csize = struct.unpack_from("<I", b, at + 4)[0]
            raw = decompress_block(b[at:at + 4], b[at + 16:at + 16 + csize])
            if raw is None:
                return {}
            at += 16 + csize + 32
            i = 0
            while i + 4 <= len(raw):
                n = struct.unpack_from("<I", raw, i)[0]
                e = raw[i + 4:i + 4 + n]
                i += 4 + n
                j = 0
                field = 0
                while j < len(e):
                    tag, j = varint(e, j)
                    if tag & 7 == 0:
                        _, j = varint(e, j)
                        continue
                    field = tag >> 3
                    break
                name = ENTRY_KINDS.get(field, f"field {field}")
                if field == 3:  # RingRecord { bytes data = 1 }: rein_hdr.kind first
                    _, k = varint(e, j)  # the RingRecord's length
                    _, k = varint(e, k + 1)  # data's tag, then its length
                    kind = struct.unpack_from("<H", e, k)[0] if k + 2 <= len(e) else 0
                    name = "record " + RECORD_KINDS.get(kind, str(kind))
                cnt, size = by.get(name, (0, 0))
                by[name] = (cnt + 1, size + n + 4)
    return by


def capture_size(d):
    """(bytes on disk, entry bytes before compression) of a capture directory, from the block
    headers (userspace/capture/segment_format.h: 112-byte header, then blocks of
    "RBLZ" (zstd) or "RBLK" (zlib) | u32 compressed | u32 raw | u32 entries | payload
    | 32-byte MAC, then a trailer)."""
    disk = raw = 0
    for seg in sorted(glob.glob(os.path.join(d, "segment-*.rcap"))):
        with open(seg, "rb") as f:
            b = f.read()
        disk += len(b)
        at = 112
        while at + 16 <= len(b) and b[at:at + 4] in (b"RBLK", b"RBLZ"):
            csize, rsize = struct.unpack_from("<II", b, at + 4)
            raw += rsize
            at += 16 + csize + 32
    return disk, raw


# Warm-up, untimed: fills the plan cache and the page cache, and shows that the tracked loop
# is decoded at all. System mode analyses its libraries after "ready", in the background: wait
# for them (libssl and node) so that no later round pays for an analysis.
s = sensor("--tls-hooks", "system")
wanted = ["/usr/lib/x86_64-linux-gnu/libssl.so.3"] + ["/usr/bin/node"] * os.path.exists("/usr/bin/node")
deadline = time.time() + 120
while time.time() < deadline and not all(f"TLS {w}:" in s.stderr() for w in wanted):
    time.sleep(0.2)
cold_system = re.findall(r"rein: TLS (\S+): .*\(analysed in (\d+) ms\)", finish(s, what="warm-up"))
s = sensor("--agent-script", "tls_loop.py")
finish(s, tracked_pid=loop(LOOP, "chat", s)[0], what="warm-up")

rate = {k: [] for k in ("u_off", "u_on", "u_sys", "t_off", "t_on", "t_nodet", "t_cap")}
cpu = {k: [] for k in ("t_on", "t_nodet", "t_cap")}  # sensor CPU seconds per tracked loop
rss = {k: [] for k in cpu}
faults = {k: [] for k in cpu}  # the sensor's minor page faults during each tracked loop
loop_faults = [0]  # set by tracked_cpu
idle = []  # sensor CPU per second while idle (--no-detections, after its loop)
det_entries = []  # pipeline.detection_state_entries and _bytes at stop (default mode)
det_share = []  # the sensor's own estimate of its time in detections / its CPU on the loop
caps = []  # (dir, sensor lifetime s, loop s, client pid) of each round's --capture run
cap_self = []  # capture's CPU by its own measure at stop (s), each round's --capture run


def capture_cpu_s(s):
    """The CPU capture cost a stopped sensor, by its own measure (sensor.health capture:
    the writer thread's time and the sensor thread's time in the recorder), in seconds:
    (writer, recorder)."""
    c = rh.health(s.events(), "stopped")[-1].get("capture", {})
    rh.check("writer_cpu_ns" in c and "recorder_cpu_ns" in c, f"no capture CPU in sensor.health: {c}")
    return c["writer_cpu_ns"] / 1e9, c["recorder_cpu_ns"] / 1e9


added_s = 0.0  # wall time of what issues 9 and 11 added to this bench
for rnd in range(ROUNDS):
    # A/B/A/B: the same order every round, so drift (thermal, neighbours) spreads over all.
    rate["u_off"].append(loop(plain, "models")[1])
    rate["t_off"].append(loop(LOOP, "chat")[1])
    s = sensor("--agent-script", "tls_loop.py")
    u_pid, r_u = loop(plain, "models", s)
    t_pid, r_t, _, c, _, _ = tracked_cpu(s, settle=False)
    rss["t_on"].append(rss_mib(s.pid()))
    faults["t_on"].append(loop_faults[0])
    finish(s, tracked_pid=t_pid, untracked_pid=u_pid, what=f"round {rnd + 1}, per-process hooks")
    stopped = rh.health(s.events(), "stopped")[-1]
    det_p = stopped["pipeline"]
    det_entries.append((det_p.get("detection_state_entries"), det_p.get("detection_state_bytes")))
    dt = stopped.get("detection_time", {})
    rh.check(dt.get("timed_calls", 0) > 0, f"round {rnd + 1}: no detection_time in sensor.health: {dt}")
    # the untracked loop before makes no detector calls: all of it is the tracked loop's
    det_share.append(dt["estimated_ns"] / 1e9 / c)
    time_one_in = dt["sampled_one_in"]
    rate["u_on"].append(r_u)
    rate["t_on"].append(r_t)
    cpu["t_on"].append(c)
    s = sensor("--tls-hooks", "system")
    u_pid, r_u = loop(plain, "models", s)
    finish(s, untracked_pid=u_pid, what=f"round {rnd + 1}, system hooks")
    rate["u_sys"].append(r_u)
    # The tracked loop again: no detectors at all, then with the capture journal (whose
    # CPU counts until its last block is written, less the idle rate meanwhile).
    t_added = time.time()
    s = sensor("--agent-script", "tls_loop.py", "--no-detections")
    t_pid, r_t, _, c, idle_rate, _ = tracked_cpu(s)
    idle.append(idle_rate)
    rss["t_nodet"].append(rss_mib(s.pid()))
    faults["t_nodet"].append(loop_faults[0])
    finish(s, tracked_pid=t_pid, what=f"round {rnd + 1}, --no-detections")
    rate["t_nodet"].append(r_t)
    cpu["t_nodet"].append(c)
    cap_dir = os.path.join(work, f"capture-{rnd + 1}")
    t_start = time.time()
    s = sensor("--agent-script", "tls_loop.py", "--capture", cap_dir)
    t_pid, r_t, loop_s, c, cap_rate, settle_s = tracked_cpu(s)
    rss["t_cap"].append(rss_mib(s.pid()))
    faults["t_cap"].append(loop_faults[0])
    finish(s, tracked_pid=t_pid, what=f"round {rnd + 1}, --capture")
    cap_self.append(capture_cpu_s(s))
    caps.append((cap_dir, time.time() - t_start, loop_s, t_pid))
    rate["t_cap"].append(r_t)
    cpu["t_cap"].append(c + (cap_rate - idle[-1]) * settle_s)
    added_s += time.time() - t_added
    print(f"round {rnd + 1}/{ROUNDS}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rate.items())
          + "; sensor CPU per 1000 calls: " + ", ".join(f"{k} {v[-1] * 1000 / N:.3f} s" for k, v in cpu.items()),
          flush=True)

# One more tracked run with BPF run statistics on (they cost a clock read per program run, so
# not during the timed rounds): how many TLS hook hits a request takes, and our programs' time.
TLS_PROGS = ("rein_tls_enter", "rein_tls_exit")
s = sensor("--agent-script", "tls_loop.py")
runs = []
with rh.bpf_stats():
    t_pid, _ = loop(LOOP, "chat", s, go=lambda: runs.append(rh.bpf_prog_runs(TLS_PROGS)))
    runs.append(rh.bpf_prog_runs(TLS_PROGS))
finish(s, tracked_pid=t_pid, what="hook statistics run")
tls_runs = {n: [b - a for a, b in zip(runs[0][n], runs[1][n])] for n in TLS_PROGS}
rh.check(tls_runs["rein_tls_enter"][0] >= N, f"TLS hook runs: {tls_runs}")
trap_us, trap_ret_us, bare_call_ns = uprobe_cost() if WORKLOAD else (None, None, None)
mock.stop()

# --- replay of each round's capture ---------------------------------------------------------
# `rein replay` over the whole capture (sensor start to stop) against the time it covers and
# the client loop's time alone; it must print every llm.call the live run printed.
t_added = time.time()
replays = []  # (disk bytes, raw bytes, replay wall s, records, capture span s, loop s, replay CPU s)
breakdown = capture_breakdown(caps[-1][0])
for cap_dir, span_s, loop_s, t_pid in caps:
    disk, raw = capture_size(cap_dir)
    out = os.path.join(work, "replay.jsonl")
    ru0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    p = subprocess.run([rh.rein_bin(), "replay", cap_dir, "--output", out, "--state-dir", state],
                       capture_output=True, text=True, timeout=300)
    wall, ru1 = time.monotonic() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    replay_cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    rh.check(p.returncode == 0, f"rein replay {cap_dir}: {p.returncode} {p.stderr}")
    m = re.search(r"rein replay: (\d+) entries, (\d+) records", p.stderr)
    rh.check(m is not None, f"rein replay printed no counts: {p.stderr}")
    with open(out) as f:
        calls = sum(1 for line in f if '"type":"llm.call"' in line
                    and json.loads(line).get("process", {}).get("pid") == t_pid)
    rh.check(calls == N, f"replay of {cap_dir}: {calls} llm.call events for {N} requests")
    replays.append((disk, raw, wall, int(m.group(2)), span_s, loop_s, replay_cpu))
# The part of a replay that does not grow with the records (process start, OpenSSL set-up,
# the capture's context and /proc snapshot; replay builds no secret scanner, the scans'
# results are in the capture): a capture of a sensor that saw
# no workload, replayed the same way. What is left of a round's wall time is the records'.
empty_dir = os.path.join(work, "capture-empty")
s = sensor("--agent-script", "tls_loop.py", "--capture", empty_dir)
finish(s, what="empty capture")
cap_fixed_s = capture_cpu_s(s)  # start (the /proc snapshot) and idle rounds: no records
fixed = []
for _ in range(5):
    t0 = time.monotonic()
    p = subprocess.run([rh.rein_bin(), "replay", empty_dir, "--output", os.devnull, "--state-dir", state],
                       capture_output=True, text=True, timeout=60)
    fixed.append(time.monotonic() - t0)
    rh.check(p.returncode == 0, f"rein replay {empty_dir}: {p.returncode} {p.stderr}")
    m = re.search(r"rein replay: (\d+) entries, (\d+) records", p.stderr)
    rh.check(m is not None, f"rein replay printed no counts: {p.stderr}")
    empty_records = int(m.group(2))
fixed_s = statistics.median(fixed)


# Detections' cost in instructions: the last round's capture replayed under callgrind with
# and without --no-detections. Counts are the same from run to run on a busy VM, where the
# CPU-time ratios above move by more than the cut being looked for. The binary is copied
# without its debug sections (this valgrind cannot read clang's DWARF 5). Replay is not the
# live sensor (no ring buffer, no polling), so this is the engine's work per call against
# the pipeline's, not the live share; and replay takes the secret scan's findings from the
# capture's journal, so the Hyperscan pass over each request is not in the count.
def replay_instructions(cap_dir, extra):
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", plain_bin,
                        "replay", cap_dir, "--output", os.devnull, "--state-dir", vg_state] + extra,
                       capture_output=True, text=True, timeout=600)
    m = re.search(r"I\s+refs:\s+([\d,]+)", p.stderr)
    rh.check(p.returncode == 0 and m is not None, f"callgrind replay: {p.returncode} {p.stderr[-500:]}")
    return int(m.group(1).replace(",", ""))


vg_instr = None
objcopy = shutil.which("objcopy") or shutil.which("llvm-objcopy")
if shutil.which("valgrind") and objcopy:
    plain_bin = os.path.join(work, "rein-nodebug")
    subprocess.run([objcopy, "--strip-debug", rh.rein_bin(), plain_bin], check=True, timeout=120)
    vg_state = os.path.join(work, "state-valgrind")  # its own copy: replay leaves nothing in it
    shutil.copytree(state, vg_state)
    vg_instr = (replay_instructions(caps[-1][0], []), replay_instructions(caps[-1][0], ["--no-detections"]))
added_s += time.time() - t_added
bench_s = time.time() - started


# --- exec to TLS hooks, real agent binaries -------------------------------------------------
# REIN_DEBUG_TLS makes rein log "attach pid P <file>" when it attaches a process's probes (or
# tries to: a short `--version` may be gone by then); its arrival time minus the spawn time is
# the exec-to-hooks latency. Cold: empty state dir, the analysis line gives its duration; warm:
# the same state dir again, a cache lookup (no analysis line).
AGENTS = os.path.join(os.environ.get("REIN_AGENT_CACHE") or "/var/cache/rein-agents", "node_modules")
binaries = [os.path.join(AGENTS, p) for p in (
    "@anthropic-ai/claude-code/bin/claude.exe", "opencode-ai/bin/opencode.exe",
    "@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex")] + ["/usr/bin/node"]
binaries = [b for b in binaries if os.path.exists(b)]


def hook_latency(exe, state_dir):
    """(rein start s, (analysis ms, libraries) or None, exec->attach ms or None) for one
    `exe --version`."""
    t0 = time.monotonic()
    p = subprocess.Popen([rh.rein_bin(), "run", "--output", "/dev/null", "--no-default-agents",
                          "--agent-exe", os.path.basename(exe), "--state-dir", state_dir],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "REIN_DEBUG_TLS": "1"})
    lines = []  # (arrival time, line)

    def read():
        for line in p.stderr:
            lines.append((time.monotonic(), line.rstrip()))
    threading.Thread(target=read, daemon=True).start()
    while not any("rein: ready" in ln for _, ln in lines):
        rh.check(p.poll() is None and time.monotonic() - t0 < 60, f"rein not ready: {lines[-5:]}")
        time.sleep(0.02)
    start_s = time.monotonic() - t0
    t_exec = time.monotonic()
    a = subprocess.Popen([exe, "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    attach = re.compile(rf"rein-debug: attach pid {a.pid} ")
    analysed = re.compile(r"rein: TLS (\S+): (.*) \(analysed in (\d+) ms\)")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(attach.match(ln) for _, ln in lines):
        time.sleep(0.01)
    time.sleep(0.3)  # the analysis line follows the attach at once
    a.kill()
    a.wait()
    p.send_signal(signal.SIGINT)
    p.wait(30)
    at = [t for t, ln in lines if attach.match(ln)]
    an = [(int(m.group(3)), m.group(2)) for _, ln in lines if (m := analysed.match(ln)) and m.group(1) == exe]
    return start_s, (an[0] if an else None), ((at[0] - t_exec) * 1000 if at else None)


# A cold plan's time moves by more than 1.5x from run to run on this VM (what else the host
# does while 130 MB of code are read): each binary is analysed cold COLD_REPS times, each in
# a fresh state dir, then once warm from the last one's cache.
COLD_REPS = 3
latency = {}
for exe in binaries:
    colds = []
    for _ in range(COLD_REPS):
        d = rh.workdir("rein-bench-state-")
        colds.append(hook_latency(exe, d))
    latency[exe] = (colds, hook_latency(exe, d))

# --- report ---------------------------------------------------------------------------------
# A ratio pairs runs of the same round (seconds apart), so slow drift cancels; its median
# over the rounds is the figure.
med = {k: statistics.median(v) for k, v in rate.items()}
ratios = lambda k, base: [b / r for b, r in zip(rate[base], rate[k])]  # noqa: E731
print(f"\nTLS keep-alive loop on loopback, {N} requests x {ROUNDS} rounds, medians "
      f"(ratio = time with / time without the sensor, same round):")
print(f"  {'case':44s} {'req/s':>7s} {'ratio':>7s}  {'min-max':13s} target")
for name, k, base, target in (
        ("untracked GET /v1/models, no rein", "u_off", None, ""),
        ("untracked, rein (per-process TLS hooks)", "u_on", "u_off", "<= 1.05x"),
        ("untracked, rein --tls-hooks system", "u_sys", "u_off", "(trade-off)"),
        ("tracked streamed chat, no rein", "t_off", None, ""),
        ("tracked, rein decoding every call", "t_on", "t_off", "<= 1.15x")):
    r = ratios(k, base) if base else None
    ratio, spread = (f"{statistics.median(r):.3f}x", f"{min(r):.2f}-{max(r):.2f}") if r else ("", "")
    print(f"  {name:44s} {med[k]:7.0f} {ratio:>7s}  {spread:13s} {target}")
for name, k, base, target in (
        ("tracked, rein --no-detections", "t_nodet", "t_off", ""),
        ("tracked, rein --capture DIR", "t_cap", "t_off", "")):
    r = ratios(k, base)
    print(f"  {name:44s} {med[k]:7.0f} {statistics.median(r):6.3f}x  {min(r):.2f}-{max(r):.2f}")
print(f"  every tracked run: {N}/{N} llm.call events, 0 ring drops, 0 truncated")
hits = tls_runs["rein_tls_enter"][0] / N
prog_us = sum(ns for _, ns in tls_runs.values()) / N / 1e3
base_us = 1e6 / med["t_off"]
print(f"  hook floor of the tracked loop: {hits:.1f} TLS hook hits per request (BPF run counts of "
      f"rein_tls_enter); rein's TLS programs ran {prog_us:.1f} us per request")
if trap_us is not None:
    print(f"    a bare kernel uprobe here (trace event, no BPF, push-first function as in OpenSSL): "
          f"{trap_us:.2f} us per hit, {trap_ret_us:.2f} us with its return probe (the call itself: "
          f"{bare_call_ns:.1f} ns)")
    print(f"    {hits:.1f} x {trap_ret_us:.2f} us = {hits * trap_ret_us:.0f} us per request against the "
          f"bare loop's {base_us:.0f} us: the traps alone, before any work of rein's, make "
          f"{1 + hits * trap_ret_us / base_us:.3f}x; with rein's programs "
          f"{1 + (hits * trap_ret_us + prog_us) / base_us:.3f}x")
else:
    print("    (REIN_BENCH_WORKLOAD not set: bare uprobe cost not measured)")
print(f"  system mode, cold analysis: " + (", ".join(f"{os.path.basename(f)} {ms} ms" for f, ms in cold_system) or "none logged"))

# Sensor CPU: per-round ratios against the run without the feature, median and min-max.
per_k = lambda k: statistics.median(cpu[k]) * 1000 / N  # noqa: E731
cpu_ratio = lambda k, base: [a / b for a, b in zip(cpu[k], cpu[base])]  # noqa: E731
print(f"\nSensor CPU on the tracked loop (rein, all threads, schedstat), seconds per 1000 calls, "
      f"medians of {ROUNDS} rounds (idle sensor: {statistics.median(idle) * 1000:.1f} ms/s):")
print(f"  --no-detections          {per_k('t_nodet'):.3f} s   RSS {statistics.median(rss['t_nodet']):.1f} MiB")
d = cpu_ratio("t_on", "t_nodet")
print(f"  default (detections on)  {per_k('t_on'):.3f} s   RSS {statistics.median(rss['t_on']):.1f} MiB   "
      f"{(statistics.median(d) - 1) * 100:+.1f}% vs --no-detections ({(min(d) - 1) * 100:+.0f}% to "
      f"{(max(d) - 1) * 100:+.0f}%), target <= +5%")
c = cpu_ratio("t_cap", "t_on")
print(f"  --capture DIR            {per_k('t_cap'):.3f} s   RSS {statistics.median(rss['t_cap']):.1f} MiB   "
      f"{(statistics.median(c) - 1) * 100:+.1f}% vs default ({(min(c) - 1) * 100:+.0f}% to "
      f"{(max(c) - 1) * 100:+.0f}%), target <= +10%")
# One-time costs inside these figures: the sensor's first use of its buffers faults pages in,
# and on this class of VM a fault costs far more than on bare metal.
fault_us = statistics.median(fault_cost_us() for _ in range(3))
print(f"  sensor minor page faults during the tracked loop (medians): " +
      ", ".join(f"{name} {statistics.median(faults[k]):.0f}" for name, k in
                (("--no-detections", "t_nodet"), ("default", "t_on"), ("--capture", "t_cap"))) +
      f"; a first touch of a fresh page costs {fault_us:.1f} us of CPU here, so the default run's "
      f"faults are {statistics.median(faults['t_on']) * fault_us / N:.2f} us a call of its sensor CPU, "
      f"the --capture run's {statistics.median(faults['t_cap']) * fault_us / N:.2f} us")
# capture's own measure, less an idle capture's (its start: the /proc snapshot), against the
# same run's sensor CPU: less noisy than the difference of two runs
own_w = [max(w - cap_fixed_s[0], 0.0) for w, _ in cap_self]
own_r = [max(r - cap_fixed_s[1], 0.0) for _, r in cap_self]
own = [w + r for w, r in zip(own_w, own_r)]
own_add = [o / max(t - o, 1e-9) for o, t in zip(own, cpu["t_cap"])]
print(f"  capture's CPU by its own measure (sensor.health capture.writer_cpu_ns + recorder_cpu_ns, less "
      f"an idle capture's {sum(cap_fixed_s) * 1e3:.1f} ms): {statistics.median(own) * 1000 / N:.3f} s per 1000 calls "
      f"(writer thread {statistics.median(own_w) * 1e6 / N:.1f} us a call, recorder on the sensor's thread "
      f"{statistics.median(own_r) * 1e6 / N:.1f} us), +{statistics.median(own_add) * 100:.1f}% on the rest of "
      f"that run's sensor CPU (+{min(own_add) * 100:.0f}% to +{max(own_add) * 100:.0f}%), target <= +10%")
print(f"  detections' share of that CPU, the sensor's own estimate (sensor.health detection_time: "
      f"1 in {time_one_in} calls into the engine and its glue timed): "
      f"{statistics.median(det_share) * 100:.1f}% ({min(det_share) * 100:.1f}% to "
      f"{max(det_share) * 100:.1f}%), target <= 5%")
print(f"  detection state at stop (pipeline.detection_state_entries, detection_state_bytes): "
      f"{det_entries} (bytes: the detectors' estimate from their containers; RSS above is the "
      f"whole process)")
disk, raw, wall, recs, span_s, loop_s, rcpu = (statistics.median(x) for x in zip(*replays))
print(f"\nCapture of the tracked run ({N} calls), medians of {len(replays)}: {disk / 1e6:.2f} MB on disk "
      f"({disk / N:.0f} bytes per call), {raw / 1e6:.2f} MB of entries before compression: "
      f"ratio {raw / disk:.2f}")
print("  entries (last round, before compression): " + (", ".join(
    f"{k} {n} = {b / 1e6:.2f} MB" for k, (n, b) in sorted(breakdown.items(), key=lambda kv: -kv[1][1]))
    or "n/a (no python3-zstandard and no zstd tool to decompress the blocks)"))
print(f"rein replay: {wall:.3f} s wall ({rcpu:.3f} s CPU) for {recs:.0f} records = {recs / wall / 1e3:.0f}k records/s "
      f"start included; {fixed_s * 1e3:.0f} ms of that is fixed (median of 5 replays of a capture with no workload, "
      f"{empty_records} records: process start, OpenSSL set-up, context and /proc snapshot), "
      f"the records took {(wall - fixed_s) * 1e3:.0f} ms = {(recs - empty_records) / max(wall - fixed_s, 1e-6) / 1e3:.0f}k "
      f"records/s (target >= 500k/s); the capture covers {span_s:.1f} s (sensor start to stop): "
      f"{span_s / wall:.1f}x real time, {loop_s / wall:.1f}x against the client loop's {loop_s:.2f} s "
      f"alone (target >= 10x); {N}/{N} llm.call lines replayed each time")
if vg_instr:
    on_i, off_i = vg_instr
    print(f"rein replay of that capture under callgrind: {on_i / N:,.0f} instructions per call with "
          f"detections, {off_i / N:,.0f} with --no-detections: detections {(on_i - off_i) / N:,.0f} per "
          f"call, {(on_i - off_i) / off_i * 100:+.1f}% of replay's instructions (start included; the "
          f"secret scan's findings come from the capture's journal, so its Hyperscan pass is not counted)")
else:
    print("rein replay under callgrind: n/a (no valgrind or objcopy)")
print("\nexec -> TLS hooks attached (`<binary> --version` as a selected agent):")
fmt = lambda v, u="ms": "n/a" if v is None else f"{v:.0f} {u}"  # noqa: E731


def spread(vals):
    """median (min-max) in ms of the values that were measured, or n/a"""
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    return f"{statistics.median(vals):.0f} ms ({min(vals):.0f}-{max(vals):.0f})"


for exe, (colds, (ws, wan, wat)) in latency.items():
    libs = next((an[1] for _, an, _ in colds if an), None)
    print(f"  {os.path.basename(exe):14s} cold, {len(colds)} runs: analysis {spread([an and an[0] for _, an, _ in colds])}, "
          f"attached {spread([cat for _, _, cat in colds])} after exec, rein start "
          f"{statistics.median(cs for cs, _, _ in colds):.2f} s; warm: attached {fmt(wat)} after exec, rein start {ws:.2f} s"
          + ("" if wan is None else " (analysed again: cache missed)") + f"\n{'':16s}{libs}")
print(f"\nbench {bench_s:.0f} s (of which {added_s:.0f} s for capture and detections: "
      f"--no-detections and --capture runs, replays), hook latency {time.time() - started - bench_s:.0f} s")
