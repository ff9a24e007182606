"""The foundation workload (test_foundation checks what the sensor saw of it;
test_replay_foundation replays a capture of it): a tracked tree doing every file mutation,
a shell child, TCP v4/v6 and refused connects, unix connects and a DNS lookup, next to an
untracked sibling doing the same. Importing it starts nothing."""
import json
import os
import shutil
import socket
import subprocess
import uuid

import reinharness as rh

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Foundation:
    def __init__(self):
        self.tag = uuid.uuid4().hex[:10]
        self.base = rh.workdir("rein-fnd-")
        self.agent_name = f"agent_{self.tag}"
        self.agent_exe = os.path.join(self.base, self.agent_name)
        self.sibling_exe = os.path.join(self.base, f"sibling_{self.tag}")
        for dst in (self.agent_exe, self.sibling_exe):
            shutil.copy(os.path.join(HERE, "workloads", "fs_net_workload.py"), dst)
            os.chmod(dst, 0o755)
        self.l4 = rh.Listener()
        self.l6 = rh.Listener(socket.AF_INET6, "::1")
        self.closed = rh.closed_port()
        self.dns_host = "127.0.0.153"
        self.dns = rh.DnsResponder(self.dns_host, {f"llm-{self.tag}.example": "10.9.8.7"})
        self.query = rh.dns_query_packet(f"llm-{self.tag}.example", qid=0x4242).hex()
        self.W = os.path.join(self.base, "work")
        self.W2 = os.path.join(self.base, "sibling-work")
        self.selectors = ["--agent-exe", self.agent_name, "--no-default-agents"]
        self.tracked = self.sibling = None

    def params(self, d):
        return json.dumps({"dir": d, "port4": self.l4.port, "port6": self.l6.port,
                           "closed": self.closed, "dns": self.dns_host, "query": self.query,
                           "exit": 7})

    def run(self, s):
        """Runs both trees to their end under the sensor s, then fences it."""
        self.tracked = subprocess.Popen([self.agent_exe, self.params(self.W)])
        self.sibling = subprocess.Popen([self.sibling_exe, self.params(self.W2)])
        rc = self.tracked.wait(60)
        src = self.sibling.wait(60)
        rh.check(rc == 7, f"workload exit code {rc}")
        # the sibling did the same work: "nothing from it" means something only then
        rh.check(src == 7 and os.listdir(self.W2), f"untracked sibling's exit code {src}")
        s.fence()

    def close(self):
        self.l4.close()
        self.l6.close()
        self.dns.close()
