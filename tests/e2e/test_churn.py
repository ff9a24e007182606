#!/usr/bin/env python3
"""Churn: 2,000 short-lived tracked processes. Every exec and exit is reported or counted
as dropped, and the process table does not keep them after the grace period."""
import os
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402

rh.require_bpf()
N = 2000
tag = uuid.uuid4().hex[:10]
base = rh.workdir("rein-churn-")
name = f"churn_{tag}"
exe = os.path.join(base, name)
shutil.copy("/bin/bash", exe)

with rh.Sensor(["--no-default-agents", "--agent-exe", name], health_interval=1.0) as s:
    t0 = time.time()
    subprocess.run([exe, "-c", f"for i in $(seq {N}); do /bin/true; done"], check=True, timeout=300)
    churn_s = time.time() - t0
    # the table drops exited entries after a 5 s grace: wait for a health report that shows it
    live = len([d for d in os.listdir("/proc") if d.isdigit()])
    seen = len(rh.health(s.events(), "running"))  # only reports written after the churn count
    deadline = time.time() + 30
    while True:
        later = rh.health(s.events(), "running")[seen:]
        if any(h["pipeline"]["process_table_size"] < live + 200 for h in later):
            break
        rh.check(time.time() < deadline, "the process table kept exited entries for 30 s")
        time.sleep(0.1)
    events = s.stop()

execs = [e for e in events if e["type"] == "process.exec" and e["process"]["comm"] == "true"]
exits = [e for e in events if e["type"] == "process.exit" and e["process"]["comm"] == "true"]
last = rh.health(events, "stopped")[-1]
drops = sum(v for k, v in last["kernel"].items() if k.startswith("drop_"))
print(f"churn: {N} processes in {churn_s:.1f}s; execs {len(execs)}, exits {len(exits)}, "
      f"kernel drops {drops}, table size {last['pipeline']['process_table_size']}")
rh.check(len(execs) + drops >= N and len(execs) <= N, f"execs {len(execs)} + drops {drops} vs {N}")
rh.check(len(exits) + drops >= N and len(exits) <= N, f"exits {len(exits)} + drops {drops} vs {N}")
# drops may excuse some events, never all of them: the sensor must have kept up with most
rh.check(len(execs) >= N // 2 and len(exits) >= N // 2,
         f"only {len(execs)} execs and {len(exits)} exits of {N} reported")
rh.check(all(e["exit_code"] == 0 for e in exits), "true exits 0")
live = len([d for d in os.listdir("/proc") if d.isdigit()])
rh.check(last["pipeline"]["process_table_size"] < live + 200,
         f"table keeps exited processes: {last['pipeline']['process_table_size']} vs {live} live")
rh.check(last["pipeline"]["decode_errors"] == 0, "decode errors")
print("PASS")
