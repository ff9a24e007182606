#!/usr/bin/env python3
"""Holds that hold, on the real kernel. A pause rule stops a tracked process at a protected
write; another agent process sends it SIGCONT: it must stay stopped (rein ptrace-seized it)
and write nothing more until an operator approves it, and the event stream names the sender.
When rein stops (SIGTERM) every open hold ends by the policy's default: default deny kills
the held process, default allow lets it go on; nothing is left stopped. When rein is killed
(SIGKILL) with a hold open, the next start ends it by its default (--state-dir/holds)."""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402

rh.require_bpf()
rein = rh.rein_bin()
tag = uuid.uuid4().hex[:8]
base = rh.workdir("rein-holds-")
agent_name = f"holdagent_{tag}"
agent = os.path.join(base, agent_name)  # a python3 the policy selects by name
shutil.copy("/usr/bin/python3", agent)
os.mkdir(os.path.join(base, "protected"))
sock_path = os.path.join(base, "control.sock")


def policy(default):
    path = os.path.join(base, f"policy-{default}.yaml")
    with open(path, "w") as f:
        f.write(f"""apiVersion: rein/v1
agents:
  - name: holdagent
    exe: [{agent_name}]
autodiscover: false
rules:
  - name: hold-protected
    action: pause
    file:
      paths: ["{base}/protected/**"]
holds:
  timeout: 5m
  default: {default}
""")
    return path


# The held process: one line to the marker, the protected open (stopped here by the kernel
# at the open's return), then 20 more lines and exit 0.
WORKER = """
import os, sys, time
marker, protected = sys.argv[1], sys.argv[2]
m = open(marker, "a", buffering=1)
m.write("before\\n")
open(protected, "w").close()
for i in range(20):
    m.write(f"{i}\\n")
    time.sleep(0.01)
m.close()
"""
# Another agent process resuming it, as a sibling would.
RESUME = "import os, signal, sys; os.kill(int(sys.argv[1]), signal.SIGCONT); print('sent')"
RESUME_PIDFD = ("import os, signal, sys; "
                "signal.pidfd_send_signal(os.pidfd_open(int(sys.argv[1])), signal.SIGCONT); print('sent')")


LOOPER = """
import sys, time
m = open(sys.argv[1], "a", buffering=1)
for i in range(3000):
    m.write(f"{i}\\n")
    time.sleep(0.01)
"""


def sensor_map_id(pid, name):
    """The id of the sensor's own map `name` (other sensors may run on this kernel)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("map_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    maps = json.loads(subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True,
                                     text=True, check=True).stdout)
    hits = [m["id"] for m in maps if m.get("name") == name and m["id"] in ids]
    rh.check(len(hits) == 1, f"map {name} of pid {pid}: {hits}")
    return hits[0]


def lines(path):
    try:
        with open(path) as f:
            return f.read().count("\n")
    except FileNotFoundError:
        return 0


def start_worker(name):
    marker = os.path.join(base, f"{name}.marker")
    p = subprocess.Popen([agent, "-c", WORKER, marker, os.path.join(base, "protected", name)])
    return p, marker


def paused_event(s, pid):
    return s.wait_for(lambda e: e.get("type") == "policy.action" and e.get("rule") == "hold-protected"
                      and e.get("outcome") == "paused" and e["process"]["pid"] == pid
                      and e.get("hold_id"), f"the pause of pid {pid}")


def holds():
    r = subprocess.run([rein, "holds", "--socket", sock_path], capture_output=True, text=True)
    rh.check(r.returncode == 0, f"rein holds: {r.stdout} {r.stderr}")
    return json.loads(r.stdout)["holds"]


def wait_gone(p, what, timeout=30):
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        rh.fail(f"{what}: still there after {timeout}s (state {rh.proc_state(p.pid)})")


def stop_rein(s, sig):
    s.proc.send_signal(sig)
    try:
        rc = s.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        rh.fail("rein did not stop")
    return rc


workers = []
try:
    # (a) a sibling's SIGCONT does not undo a hold; approve does
    with rh.Sensor(["--no-default-agents", "--policy", policy("deny"), "--control-socket", sock_path]) as s:
        w, marker = start_worker("a")
        workers.append(w)
        ev = paused_event(s, w.pid)
        rh.check("seized" in ev["detail"] and "not seized" not in ev["detail"],
                 f"hold not seized: {ev['detail']}")
        rh.check(rh.proc_state(w.pid) in ("t", "T"), f"held process state {rh.proc_state(w.pid)}")
        n = lines(marker)
        rh.check(n == 1, f"marker lines at the hold: {n}")
        sib = subprocess.Popen([agent, "-c", RESUME, str(w.pid)], stdout=subprocess.PIPE, text=True)
        out = sib.communicate(timeout=30)[0]
        rh.check(out.strip() == "sent", f"sibling: {out}")
        # the kernel reports the SIGCONT (sender's pid), then everything before it is drained
        note = s.wait_for(lambda e: e.get("type") == "policy.action" and e.get("hold_id") == ev["hold_id"]
                          and "sent SIGCONT" in e.get("detail", ""), "the SIGCONT note")
        rh.check(f"pid {sib.pid} " in note["detail"], f"note does not name the sender {sib.pid}: {note}")
        # the same through a pidfd (the kernel finds the target behind the descriptor)
        sib2 = subprocess.Popen([agent, "-c", RESUME_PIDFD, str(w.pid)], stdout=subprocess.PIPE, text=True)
        out2 = sib2.communicate(timeout=30)[0]
        rh.check(out2.strip() == "sent", f"pidfd sibling: {out2}")
        s.wait_for(lambda e: e.get("type") == "policy.action" and e.get("hold_id") == ev["hold_id"]
                   and f"pid {sib2.pid} " in e.get("detail", "") and "syscall 424" in e.get("detail", ""),
                   "the SIGCONT note for pidfd_send_signal")
        s.fence()
        rh.check(lines(marker) == 1, f"held process wrote after SIGCONT: {lines(marker)} lines")
        rh.check(rh.proc_state(w.pid) in ("t", "T"), f"held process runs after SIGCONT: {rh.proc_state(w.pid)}")
        hs = holds()
        rh.check(len(hs) == 1 and hs[0]["pid"] == w.pid and hs[0]["seized"], f"holds: {hs}")
        a = subprocess.run([rein, "approve", str(hs[0]["id"]), "--socket", sock_path],
                           capture_output=True, text=True)
        rh.check(a.returncode == 0 and '"approved"' in a.stdout, f"approve: {a.stdout} {a.stderr}")
        rc = wait_gone(w, "approved process")
        rh.check(rc == 0 and lines(marker) == 21, f"approved: exit {rc}, {lines(marker)} lines")
        rh.check(holds() == [], "hold left after approve")
        events = s.stop()
    rh.check([e for e in events if e.get("type") == "policy.action" and e.get("outcome") == "approved"
              and e.get("hold_id") == ev["hold_id"]], "no approved event")

    # (a2) a pause whose record was lost: the kernel's held map has the process (written here
    # by hand, as the kernel would), no hold exists; rein reconciles it into a hold
    with rh.Sensor(["--no-default-agents", "--policy", policy("deny"), "--control-socket", sock_path]) as s:
        marker = os.path.join(base, "lost.marker")
        w = subprocess.Popen([agent, "-c", LOOPER, marker])
        workers.append(w)
        s.wait_for(lambda e: e.get("type") == "process.exec" and e["process"]["pid"] == w.pid,
                   "the looper's exec")
        deadline = time.time() + 30
        while lines(marker) < 3:  # running: it writes
            rh.check(time.time() < deadline and w.poll() is None, "the looper does not write")
            time.sleep(0.01)
        os.kill(w.pid, signal.SIGSTOP)
        with open(f"/proc/{w.pid}/stat") as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
        map_id = sensor_map_id(s.pid(), "held")
        key = " ".join(f"{b:02x}" for b in struct.pack("<I", w.pid))
        value = " ".join(f"{b:02x}" for b in struct.pack("<IIQQ", 0, 0, 0, start))
        subprocess.run(["bpftool", "map", "update", "id", str(map_id), "key", "hex", *key.split(),
                        "value", "hex", *value.split()], check=True)
        ev = s.wait_for(lambda e: e.get("type") == "policy.action" and e["process"]["pid"] == w.pid
                        and e.get("hold_id") and "record was lost" in e.get("detail", ""),
                        "the hold of a lost pause record")
        rh.check(ev["rule"] == "hold-protected" and "seized" in ev["detail"], f"lost-record hold: {ev}")
        n = lines(marker)
        rh.check(n >= 3, f"looper lines {n}")
        os.kill(w.pid, signal.SIGCONT)
        s.fence()
        rh.check(lines(marker) == n and rh.proc_state(w.pid) in ("t", "T"),
                 f"reconciled hold resumed by SIGCONT: {lines(marker)} vs {n}, {rh.proc_state(w.pid)}")
        d = subprocess.run([rein, "deny", str(ev["hold_id"]), "--socket", sock_path],
                           capture_output=True, text=True)
        rh.check(d.returncode == 0 and '"denied"' in d.stdout, f"deny: {d.stdout} {d.stderr}")
        rh.check(wait_gone(w, "denied reconciled hold") == -9, "reconciled hold not killed")
        s.stop()

    # (b) SIGTERM to rein ends open holds by the default: deny kills, allow lets it go on
    for default in ("deny", "allow"):
        s = rh.Sensor(["--no-default-agents", "--policy", policy(default), "--control-socket", sock_path])
        with s:
            w, marker = start_worker(f"b-{default}")
            workers.append(w)
            paused_event(s, w.pid)
            rh.check(rh.proc_state(w.pid) in ("t", "T"), f"{default}: not stopped: {rh.proc_state(w.pid)}")
            rc = stop_rein(s, signal.SIGTERM)
            rh.check(rc == 0, f"{default}: rein exited {rc}: {s.stderr()}")
            wrc = wait_gone(w, f"default {default} at shutdown")
            if default == "deny":
                rh.check(wrc == -9 and lines(marker) == 1, f"deny: exit {wrc}, {lines(marker)} lines")
            else:
                rh.check(wrc == 0 and lines(marker) == 21, f"allow: exit {wrc}, {lines(marker)} lines")
            outcome = "denied" if default == "deny" else "approved"
            ended = [e for e in s.events() if e.get("type") == "policy.action"
                     and e.get("outcome") == outcome and "rein stopped" in e.get("detail", "")]
            rh.check(ended and ended[0]["process"]["pid"] == w.pid, f"{default}: no end event")

    # (c) rein killed with a hold open: the next start ends it by the default
    state = os.path.join(base, "state")
    s = rh.Sensor(["--no-default-agents", "--policy", policy("deny"), "--control-socket", sock_path,
                   "--state-dir", state])
    with s:
        w, marker = start_worker("c")
        workers.append(w)
        paused_event(s, w.pid)
        with open(os.path.join(state, "holds")) as f:
            saved = f.read()
        rh.check(saved.startswith(f"{w.pid} ") and " deny " in saved, f"holds file: {saved!r}")
        stop_rein(s, signal.SIGKILL)
    # the kernel detached the dead tracer's tracees: each wakes from its ptrace-stop and
    # goes back into the group-stop (it shows R for that moment, running no user code: the
    # marker check at the restart below proves it)
    deadline = time.time() + 5
    while rh.proc_state(w.pid) != "T" and time.time() < deadline:
        time.sleep(0.01)
    rh.check(rh.proc_state(w.pid) == "T", f"after rein was killed: {rh.proc_state(w.pid)}")
    rh.check(lines(marker) == 1, f"after rein was killed: {lines(marker)} marker lines")
    with rh.Sensor(["--no-default-agents", "--policy", policy("deny"), "--control-socket", sock_path,
                    "--state-dir", state]) as s2:
        wrc = wait_gone(w, "leftover hold at restart")
        rh.check(wrc == -9 and lines(marker) == 1, f"restart: exit {wrc}, {lines(marker)} lines")
        rh.check("from an earlier run" in s2.stderr(), f"restart stderr: {s2.stderr()}")
        s2.stop()
finally:
    for w in workers:
        if w.poll() is None:
            w.kill()
            w.wait()

print("ok")
