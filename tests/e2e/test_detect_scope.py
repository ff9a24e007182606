#!/usr/bin/env python3
"""Scope drift on the real kernel (docs/detections.md section 3). Two scripted agents (copies
of python3 the policy selects by name) act inside and then outside their baseline:
  declared - the policy declares its executables, directories and hosts. An in-scope run
             (its own exe, /usr/bin/echo, files below the declared directory, a connect to the
             declared host:port) gives no detect.scope_drift; a run that also execs
             /usr/bin/true, writes 40 files in one new directory (and below it) and connects to
             a second port gives exactly three events, one per new item, naming the item and
             the declared baseline (policy line).
  learned  - learned over a first sensor run (learn_for 1h), saved in --state-dir; the sensor
             restarts with learn_for 1s. The same in-scope run is silent (the items survived
             the restart) and the drifting run gives the same three events against the learned
             baseline, whose learned_since is from the first run (the window was not reset).
The work directory is outside /tmp, which folds to one scratch directory."""
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402

rh.require_bpf()
tag = uuid.uuid4().hex[:8]
base = rh.workdir("rein-scope-", parent="/var/lib")
state = os.path.join(base, "state")
decl_exe, learn_exe = f"scopedecl_{tag}", f"scopelearn_{tag}"
for exe in (decl_exe, learn_exe):
    shutil.copy("/usr/bin/python3", os.path.join(base, exe))
# the directories exist before the agents run: an agent's mkdir is a write in the parent
for d in ("decl-work/sub", "learn-work/sub", "decl-new/deeper", "learn-new/deeper"):
    os.makedirs(os.path.join(base, d))

# mode: in (inside the baseline) or drift (inside, then outside)
AGENT = r'''
import os, socket, subprocess, sys
mode, work, in_port, out_port, newdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def write(path):
    with open(path, "w") as f:
        f.write("x")
subprocess.run(["/usr/bin/echo", "in scope"], check=True, stdout=subprocess.DEVNULL)
write(os.path.join(work, "sub", f"{mode}.txt"))
socket.create_connection(("127.0.0.1", in_port), timeout=5).close()
if mode == "drift":
    subprocess.run(["/usr/bin/true"], check=True)
    for i in range(30):
        write(os.path.join(newdir, f"f{i}.txt"))
    for i in range(10):  # below the new directory: inside once it joined the baseline
        write(os.path.join(newdir, "deeper", f"g{i}.txt"))
    socket.create_connection(("127.0.0.1", out_port), timeout=5).close()
print("ok")
'''
agent_py = os.path.join(base, "agent.py")
with open(agent_py, "w") as f:
    f.write(AGENT)


def policy(learn_for):
    path = os.path.join(base, f"policy-{learn_for}.yaml")
    with open(path, "w") as f:
        f.write(f"""apiVersion: rein/v1
autodiscover: false
agents:
  - name: scopedecl
    exe: [{decl_exe}]
  - name: scopelearn
    exe: [{learn_exe}]
detections:
  scope_drift:
    learn_for: {learn_for}
    baselines:
      - agent: scopedecl
        executables: [{decl_exe}, /usr/bin/echo]
        directories: [{base}/decl-work]
        hosts: ["127.0.0.1:{listen_in.port}"]
""")
    return path


def run(s, exe, mode, work, newdir):
    p = subprocess.run([os.path.join(base, exe), agent_py, mode, os.path.join(base, work),
                        str(listen_in.port), str(listen_out.port), os.path.join(base, newdir)],
                       capture_output=True, text=True, timeout=30)
    rh.check(p.returncode == 0 and p.stdout.strip() == "ok", f"{exe} {mode}: {p.stdout} {p.stderr}")
    # its pid: the exec event of this run (argv names the mode and the new directory)
    e = s.wait_for(lambda e: e.get("type") == "process.exec" and
                   (e.get("process") or {}).get("args", [])[2:3] == [mode] and
                   os.path.join(base, newdir) in e["process"]["args"], f"exec of {exe} {mode}")
    return e["process"]["pid"]


def drift_of(events, pid):
    return [e for e in events if e.get("type") == "detect.scope_drift" and
            (e.get("agent") or {}).get("root_pid") == pid]


def check_drift(events, pid, name, newdir, source):
    ds = drift_of(events, pid)
    got = sorted((e["evidence"]["dimension"], e["evidence"]["new"]) for e in ds)
    want = sorted([("executable", "/usr/bin/true"), ("directory", os.path.join(base, newdir)),
                   ("host", f"127.0.0.1:{listen_out.port}")])
    rh.check(got == want, f"{name}: scope drift events {got}, want {want} (one per new item)")
    for e in ds:
        ev = e["evidence"]
        rh.check(e["agent"]["name"] == name and e["action"] == "alert" and
                 ev["baseline"]["source"] == source and name in e["summary"],
                 f"{name}: event does not name the agent and baseline: {e}")
    return {e["evidence"]["dimension"]: e["evidence"] for e in ds}


def files_written(events, pid, d):
    return sum(1 for e in events if e.get("type") == "file.mutation" and
               e["process"]["pid"] == pid and e.get("path", "").startswith(d + "/"))


listen_in, listen_out = rh.Listener(), rh.Listener()
try:
    # 1. the learned agent learns (1 h window) and the sensor saves its baseline at exit
    t0 = time.time()
    with rh.Sensor(["--no-default-agents", "--policy", policy("1h"), "--state-dir", state]) as s:
        learn_in1 = run(s, learn_exe, "in", "learn-work", "learn-new")
        s.fence()
        events1 = s.stop()
    rh.check(not [e for e in events1 if e["type"].startswith("detect.")],
             f"detections while learning: {[e for e in events1 if e['type'].startswith('detect.')]}")
    with open(os.path.join(state, "detect-baselines.json")) as f:
        saved = json.load(f)
    items = saved["names"].get("scopelearn", {}).get("items", {})
    rh.check(f"executable\x1f/usr/bin/echo" in items and
             f"directory\x1f{base}/learn-work/sub" in items and
             f"host\x1f127.0.0.1:{listen_in.port}" in items,
             f"learned baseline not saved: {saved}")
    # the 1 s window of the restarted sensor must be over since the first sighting
    while time.time() < t0 + 1.5:
        time.sleep(0.1)

    # 2. restart: learning is over (learn_for 1s counted from the first run's sighting)
    t_restart = time.time()
    with rh.Sensor(["--no-default-agents", "--policy", policy("1s"), "--state-dir", state]) as s:
        decl_in = run(s, decl_exe, "in", "decl-work", "decl-new")
        decl_drift = run(s, decl_exe, "drift", "decl-work", "decl-new")
        learn_in = run(s, learn_exe, "in", "learn-work", "learn-new")
        learn_drift = run(s, learn_exe, "drift", "learn-work", "learn-new")
        s.wait_for(lambda e: e.get("type") == "detect.scope_drift" and
                   e["agent"]["root_pid"] == learn_drift and e["evidence"]["dimension"] == "host",
                   "the learned agent's new host")
        s.fence()
        events = s.stop()
finally:
    listen_in.close()
    listen_out.close()

rh.check(files_written(events, decl_drift, os.path.join(base, "decl-new")) >= 40,
         "the sensor did not see the drifting agent's 40 writes")
rh.check(not drift_of(events, decl_in), f"declared: in-scope run drifted: {drift_of(events, decl_in)}")
rh.check(not drift_of(events, learn_in), f"learned: in-scope run drifted after restart: "
         f"{drift_of(events, learn_in)}")
decl = check_drift(events, decl_drift, "scopedecl", "decl-new", "declared")
rh.check(all(ev["baseline"].get("policy_line", 0) > 0 for ev in decl.values()),
         f"declared baseline without its policy line: {decl}")
learned = check_drift(events, learn_drift, "scopelearn", "learn-new", "learned")
since = datetime.datetime.strptime(learned["executable"]["baseline"]["learned_since"],
                                   "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
rh.check(since.timestamp() <= t_restart, f"learning window restarted: learned_since {since} "
         f"after the restart at {t_restart}")
rh.check("/usr/bin/echo" in learned["executable"]["baseline"]["sample"] and
         f"127.0.0.1:{listen_in.port}" in learned["host"]["baseline"]["sample"],
         f"the learned baseline sample lacks what was learned: {learned}")
others = [e for e in events if e["type"].startswith("detect.") and e["type"] != "detect.scope_drift"]
rh.check(not others, f"other detections: {others}")
print(f"PASS: scope drift declared {sorted(decl)} learned {sorted(learned)} across a restart")
