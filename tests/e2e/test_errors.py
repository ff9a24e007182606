#!/usr/bin/env python3
"""Start-up errors are one clear line and a non-zero exit."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402

rh.require_bpf()
rein = rh.rein_bin()


def run(args, **kw):
    p = subprocess.run([rein, "run", "--duration", "1"] + args, capture_output=True, text=True,
                       timeout=60, **kw)
    return p.returncode, p.stderr.strip()


cases = [
    (["--agent-cmdline", "(unclosed"], "--agent-cmdline '(unclosed'"),
    (["--agent-pid", "abc"], "--agent-pid abc"),
    (["--agent-cgroup", "/no-such-cgroup-rein-e2e"], "no such cgroup"),
    (["--agent-cgroup", "relative"], "must be a path starting with '/'"),
    (["--output", "/nonexistent-dir/x.jsonl"], "--output /nonexistent-dir/x.jsonl"),
]
for args, want in cases:
    rc, err = run(args)
    rh.check(rc != 0, f"{args}: exit {rc}")
    rh.check(want in err, f"{args}: message {err!r} lacks {want!r}")
    rh.check(len(err.splitlines()) == 1, f"{args}: one line expected, got {err!r}")

# not root: a clear refusal before anything is loaded
rc, err = run(["--no-default-agents"], preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))
rh.check(rc != 0 and "must run as root" in err, f"non-root: {rc} {err!r}")
print("PASS")
