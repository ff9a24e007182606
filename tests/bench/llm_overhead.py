#!/usr/bin/env python3
"""Cost of TLS capture, as ratios against the same workload without the sensor, in one run:
rounds of no rein / rein (default, per-process TLS hooks) / rein --tls-hooks system,
medians over the rounds. The workload is our own CPU-bound keep-alive HTTPS client
(tls_loop.py, TCP_NODELAY on both ends) against the mock server on loopback:
  untracked: GET /v1/models from a client no selector matches (it should cost ~nothing);
  tracked:   small streamed chat completions from the client selected with --agent-script,
             every one decoded into an llm.call.
Then the time from exec to TLS hooks for the real agent binaries and node, cold (empty plan
cache) and warm. Prints figures; asserts only that the work was done."""
import atexit
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
N = int(os.environ.get("REIN_BENCH_LLM_REQUESTS", "2000"))
ROUNDS = int(os.environ.get("REIN_BENCH_LLM_REPS", "5"))
LOOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls_loop.py")
work = rh.workdir("rein-bench-llm-")
plain = os.path.join(work, "plain_client.py")  # the same code under a name nobody selects
shutil.copy(LOOP, plain)
state = os.path.join(work, "state")  # one plan cache for the loops: hooks attach at exec
started = time.time()
mock = lh.MockServer(max_seconds=900)
atexit.register(mock.stop)


def loop(script, kind, sensor=None):
    """One client run; returns (pid, requests/s). With a sensor, the client connects only
    after the sensor had time to hook it (plans cached: attached when the exec is read)."""
    c = subprocess.Popen([lh.PY, script, str(mock.port), mock.ca, kind, str(N)], text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if sensor:
        time.sleep(0.5)
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

rate = {k: [] for k in ("u_off", "u_on", "u_sys", "t_off", "t_on")}
for rnd in range(ROUNDS):
    # A/B/A/B: the same order every round, so drift (thermal, neighbours) spreads over all.
    rate["u_off"].append(loop(plain, "models")[1])
    rate["t_off"].append(loop(LOOP, "chat")[1])
    s = sensor("--agent-script", "tls_loop.py")
    u_pid, r_u = loop(plain, "models", s)
    t_pid, r_t = loop(LOOP, "chat", s)
    finish(s, tracked_pid=t_pid, untracked_pid=u_pid, what=f"round {rnd + 1}, per-process hooks")
    rate["u_on"].append(r_u)
    rate["t_on"].append(r_t)
    s = sensor("--tls-hooks", "system")
    u_pid, r_u = loop(plain, "models", s)
    finish(s, untracked_pid=u_pid, what=f"round {rnd + 1}, system hooks")
    rate["u_sys"].append(r_u)
    print(f"round {rnd + 1}/{ROUNDS}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rate.items()),
          flush=True)
mock.stop()
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


latency = {}
for exe in binaries:
    d = rh.workdir("rein-bench-state-")
    latency[exe] = (hook_latency(exe, d), hook_latency(exe, d))

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
print(f"  every tracked round: {N}/{N} llm.call events, 0 ring drops, 0 truncated")
print(f"  system mode, cold analysis: " + (", ".join(f"{os.path.basename(f)} {ms} ms" for f, ms in cold_system) or "none logged"))
print("\nexec -> TLS hooks attached (`<binary> --version` as a selected agent):")
fmt = lambda v, u="ms": "n/a" if v is None else f"{v:.0f} {u}"  # noqa: E731
for exe, ((cs, an, cat), (ws, wan, wat)) in latency.items():
    print(f"  {os.path.basename(exe):14s} cold: analysis {fmt(an and an[0])}, attached {fmt(cat)} after "
          f"exec, rein start {cs:.2f} s; warm: attached {fmt(wat)} after exec, rein start {ws:.2f} s"
          + ("" if wan is None else " (analysed again: cache missed)") + f"\n{'':16s}{an and an[1]}")
print(f"\nbench {bench_s:.0f} s, hook latency {time.time() - started - bench_s:.0f} s")
