#!/usr/bin/env python3
"""Replay of the foundation workload (workloads/foundation.py, what test_foundation checks):
the sensor runs it with --capture; `rein replay` of the capture must print the live lines,
in order, equal after replaycheck.comparable (which leaves out only replay's own
output-error counters)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import replaycheck  # noqa: E402
from workloads.foundation import Foundation  # noqa: E402

rh.require_bpf()
w = Foundation()
cap = os.path.join(w.base, "capture")
try:
    events, live_lines, state = replaycheck.record(w.selectors, cap, w.run)
finally:
    w.close()

# the capture saw the workload (not an empty run that trivially replays)
rh.check(any(e["type"] == "file.mutation" and e.get("path") == f"{w.W}/sub/c.txt" for e in events),
         "the live run saw the workload's files")
rh.check(any(e["type"] == "net.dns" for e in events), "the live run saw the DNS lookup")
replay_lines = replaycheck.replay(cap, state)
replaycheck.check_equal(live_lines, replay_lines, "foundation")
types = sorted({json.loads(l)["type"] for l in replay_lines})
print(f"ok: {len(live_lines)} lines replayed identically; types {types}")
