"""`rein replay` of a capture compared with the live output, line by line
(docs/capture.md, "What can differ between live and replay")."""
import json
import os
import subprocess
import sys

import reinharness as rh


def comparable(line):
    """The line as compared. Only sensor.health's own-output counters are left out: replay
    writes its own output and keeps no ledger, so pipeline.output_write_errors and
    ledger_write_errors describe replay's sinks, not the capture. Everything else (detect.*
    lines, detection_* counters included) must be equal."""
    if '"type":"sensor.health"' not in line:
        return line
    e = json.loads(line)
    for k in ("output_write_errors", "ledger_write_errors"):
        e.get("pipeline", {}).pop(k, None)
    return json.dumps(e, sort_keys=True)


def record(sensor_args, cap, run):
    """A live run with --capture `cap`, `run(sensor)` being the workload: its events, its
    output lines and the state directory a replay of it takes."""
    with rh.Sensor(sensor_args + ["--capture", cap]) as s:
        run(s)
        events = s.stop()
        with open(s.out) as f:
            live_lines = f.read().splitlines()
        state = os.path.join(s.dir, "state")
    return events, live_lines, state


def replay(cap, state, *args, timeout=120):
    """rein replay's output lines; fails on a non-zero exit."""
    out = os.path.join(os.path.dirname(cap.rstrip("/")), f"replay-{os.getpid()}-{len(args)}.jsonl")
    r = subprocess.run([rh.rein_bin(), "replay", cap, "--state-dir", state, "--output", out] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    rh.check(r.returncode == 0, f"rein replay {args}: {r.returncode} {r.stderr}")
    with open(out) as f:
        lines = f.read().splitlines()
    os.unlink(out)
    return lines


def check_equal(live_lines, replay_lines, what):
    diffs = [(i, a, b) for i, (a, b) in enumerate(zip(live_lines, replay_lines))
             if comparable(a) != comparable(b)]
    for i, a, b in diffs[:5]:
        print(f"line {i + 1} differs:\n live:   {a[:800]}\n replay: {b[:800]}", file=sys.stderr)
    if len(live_lines) != len(replay_lines):
        n = min(len(live_lines), len(replay_lines))
        extra = live_lines[n:n + 3] if len(live_lines) > n else replay_lines[n:n + 3]
        print(f"first extra lines ({'live' if len(live_lines) > n else 'replay'}):\n" +
              "\n".join(l[:400] for l in extra), file=sys.stderr)
    rh.check(len(live_lines) == len(replay_lines),
             f"{what}: replay printed {len(replay_lines)} lines, live {len(live_lines)}")
    rh.check(not diffs, f"{what}: {len(diffs)} replayed lines differ from the live ones")
