#!/usr/bin/env python3
"""LLM capture overhead: a TLS client doing N small requests against our mock server, with
and without the sensor (which auto-discovers and fully decodes it), in one run, median of
alternating repetitions; plus ring-buffer drops at that load. Prints figures only."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
N = int(os.environ.get("REIN_BENCH_LLM_REQUESTS", "1000"))
reps = int(os.environ.get("REIN_BENCH_LLM_REPS", "2"))
mock = lh.MockServer(max_seconds=1800)
args = ["--base-url", mock.https, "--path", "/v1/chat/completions", "--model", "gpt-4o-mini",
        "--count", str(N), "--keep-alive", "y"]


def run():
    t0 = time.time()
    pid, out, err = mock.client(args, timeout=900)
    rh.check(json.loads(out.strip().splitlines()[-1])["ok"] == N, f"client failed: {err}")
    return time.time() - t0


ratios, drops, calls = [], [], []
try:
    for rep in range(reps):
        off = run()
        s = rh.Sensor(["--no-default-agents"], health_interval=0)
        try:
            on = run()
            events = s.stop()
        finally:
            s.__exit__()
        k = rh.health(events, "stopped")[-1]["kernel"]
        n_calls = len([e for e in events if e["type"] == "llm.call"])
        ratios.append(on / off)
        drops.append(k["drop_ringbuf_full"])
        calls.append(n_calls)
        print(f"rep {rep + 1}/{reps}: {N} requests {off:.2f}s without, {on:.2f}s with the sensor "
              f"({on / off:.3f}x); llm.call events {n_calls}; ring drops {k['drop_ringbuf_full']}",
              flush=True)
finally:
    mock.stop()
print(f"\nTLS client, {N} keep-alive requests: median {statistics.median(ratios):.3f}x "
      f"(target <= 1.05x); ring drops {max(drops)}; calls decoded {min(calls)}/{N}")
