#!/usr/bin/env python3
"""Replay of the LLM workload (workloads/llm.py, what test_llm checks: OpenSSL, node, curl,
GnuTLS and plain-HTTP clients, an adopted client started before the sensor, streams, gzip, a
1 MiB response, a cut stream, a 429): the sensor runs it with --capture; `rein replay` of
the capture must print the live lines, in order, equal after replaycheck.comparable (which
leaves out only replay's own output-error counters). The key never reaches the capture and
the replayed llm.call lines carry the live key fingerprints."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import replaycheck  # noqa: E402
from workloads.llm import LlmWorkload  # noqa: E402

rh.require_bpf()
w = LlmWorkload()
cap = os.path.join(w.mock.dir, "capture")
try:
    w.start_early()
    events, live_lines, state = replaycheck.record(w.selectors, cap, w.run)
    ledger = w.mock.entries()
finally:
    w.close()

calls = [e for e in events if e["type"] == "llm.call"]
# test_llm checks the calls against the ledger; here they only prove the workload ran
rh.check(len(calls) > 60 and len(ledger) > 60, f"live: {len(calls)} calls, ledger {len(ledger)}")
for root, _, files in os.walk(cap):
    for fn in files:
        with open(os.path.join(root, fn), "rb") as f:
            rh.check(w.secret.encode() not in f.read(), f"key absent from {fn}")
replay_lines = replaycheck.replay(cap, state)
replaycheck.check_equal(live_lines, replay_lines, "llm")
rcalls = [json.loads(l) for l in replay_lines if '"type":"llm.call"' in l]
rh.check({c["api_key_fingerprint"] for c in rcalls} == {c["api_key_fingerprint"] for c in calls},
         "the live key fingerprints")
print(f"ok: {len(live_lines)} lines ({len(rcalls)} llm.call) replayed identically")
