"""The agent of the `rein report` e2e tests: a copy of python3 under a name of its own, which
a policy selects by that name and whose connect to 127.0.0.2 the policy denies (rule
deny-cidr), so the report has a denial to show. The workload is a Python script the test
writes; DENIED_CONNECT ends one with the denied connect."""
import os
import shutil
import subprocess
import uuid

import reinharness as rh

DENIED_CONNECT = """
s = socket.socket()
try:
    s.connect(('127.0.0.2', 9))
    sys.exit('the denied connect succeeded')
except PermissionError:
    pass
"""


class Agent:
    def __init__(self, prefix, name):
        self.name = name
        self.base = rh.workdir(prefix)
        self.path = os.path.join(self.base, f"{name}_{uuid.uuid4().hex[:8]}")
        shutil.copy("/usr/bin/python3", self.path)
        self.work = os.path.join(self.base, "work")
        os.mkdir(self.work)
        self.workload = os.path.join(self.base, "workload.py")  # a short argv: no arg is cut
        self.policy = os.path.join(self.base, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write(f"""apiVersion: rein/v1
agents:
  - name: {name}
    exe: [{os.path.basename(self.path)}]
autodiscover: false
rules:
  - name: deny-cidr
    action: deny
    network:
      cidrs: ["127.0.0.2/32"]
""")

    def write_workload(self, script):
        """The agent's workload (Python source), written before the sensor starts."""
        with open(self.workload, "w") as f:
            f.write(script)

    def run(self, sensor, *args):
        """Runs the workload as the agent under `sensor`, waits for the agent's summary and
        returns all the sensor's events once it has stopped."""
        r = subprocess.run([self.path, self.workload, *args], capture_output=True, text=True,
                           timeout=120)
        rh.check(r.returncode == 0, f"agent workload failed: {r.stdout} {r.stderr}")
        sensor.wait_for(lambda e: e.get("type") == "agent.summary"
                        and (e.get("agent") or {}).get("name") == self.name,
                        "the agent's summary")
        sensor.fence()
        return sensor.stop()
