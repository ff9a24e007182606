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
    (["--agent-exe", "bin/claude"], "--agent-exe bin/claude: must be an absolute path or a bare file name"),
]
for args, want in cases:
    rc, err = run(args)
    rh.check(rc != 0, f"{args}: exit {rc}")
    rh.check(want in err, f"{args}: message {err!r} lacks {want!r}")
    rh.check(len(err.splitlines()) == 1, f"{args}: one line expected, got {err!r}")

# values the command line parser refuses: the flag and the reason first, then its usage hint
rc, err = run(["--health-interval", "nan"])
rh.check(rc != 0 and err.splitlines()[0] == "--health-interval: not a finite number: nan",
         f"--health-interval nan: {rc} {err!r}")
rc, err = run(["--policy", ""])
rh.check(rc != 0 and err.splitlines()[0] == "--policy: empty path", f"--policy '': {rc} {err!r}")

# --control-socket replaces a stale socket, never a file that is not one (a mistyped path)
keep = os.path.join(rh.workdir("rein-errors-"), "policy.yaml")
with open(keep, "w") as f:
    f.write("important\n")
rc, err = run(["--no-default-agents", "--control-socket", keep, "-o", os.devnull])
rh.check("exists and is not a socket" in err, f"--control-socket on a file: {rc} {err!r}")  # runs degraded
rh.check(open(keep).read() == "important\n", "the file at the --control-socket path was left alone")

# not root: a clear refusal before anything is loaded
rc, err = run(["--no-default-agents"], preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))
rh.check(rc != 0 and "must run as root" in err, f"non-root: {rc} {err!r}")
print("PASS")
