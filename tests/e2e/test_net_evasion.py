#!/usr/bin/env python3
"""Network evasions on the real kernel.

- Forged DNS: an agent asks its own server (127.0.0.2:53) for a host a deny rule names and
  gets an address of its choosing; that answer must not be learned (the connect to it is not
  the rule's business, dns_answers_ignored counts it, net.dns says trusted: false). The same
  name from the resolver named with --dns-resolver (or in the policy's dns.resolvers) is
  learned and the connect is refused. An answer from that resolver with a DNS id the agent
  never sent is not learned either.
- Non-blocking connects: net.connect carries the final result (established, ECONNREFUSED),
  in_progress: true and connect_ms, for plain non-blocking sockets and asyncio.
- Tracked-table quota: an agent forking past --track-quota leaves the extra children
  untracked, drop_track_quota counts them and sensor.health names the agent.
- Stale entries: argv-selected processes that exit before user space tracks them leave no
  entry in the kernel's `tracked` map (a reused pid would inherit the agent)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402

rh.require_bpf()
tag = uuid.uuid4().hex[:8]
base = rh.workdir("rein-evasion-")
agent_name = f"evagent_{tag}"
agent = os.path.join(base, agent_name)  # a python3 the policy selects by name
shutil.copy("/usr/bin/python3", agent)
blocked = f"blocked-{tag}.test"
sneaky = f"sneaky-{tag}.test"
viapolicy = f"viapolicy-{tag}.test"
TRUSTED = "127.0.0.154"
POLICY_RESOLVER = "127.0.0.155"  # trusted by the policy's dns.resolvers
FORGER = "127.0.0.2"
policy_path = os.path.join(base, "policy.yaml")
with open(policy_path, "w") as f:
    f.write(f"""apiVersion: rein/v1
agents:
  - name: evagent
    exe: [{agent_name}]
autodiscover: false
dns:
  resolvers: ["{POLICY_RESOLVER}"]
rules:
  - name: deny-blocked
    agents: [evagent]
    action: deny
    network:
      hosts: ["{blocked}", "{sneaky}", "{viapolicy}"]
""")


class SneakyResolver(rh.DnsResponder):
    """The trusted resolver, which for `sneaky` first sends an answer with another DNS id
    (as an off-path forger racing the real answer would), then the real one."""

    def __init__(self, host, records, sneaky_name, sneaky_addr):
        self.sneaky = (sneaky_name, sneaky_addr)
        super().__init__(host, records)

    def _run(self):
        while not self._stop and time.time() < self.deadline:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                continue
            name, addr = self.sneaky
            if qname(data) == name:
                forged = bytearray(self.answer_for(data, addr))
                forged[0] ^= 0x55  # an id the agent never sent
                self.sock.sendto(bytes(forged), peer)
                self.sock.sendto(self.answer_for(data, "127.0.0.12"), peer)
                continue
            resp = self.answer(data)
            if resp:
                self.sock.sendto(resp, peer)

    def answer_for(self, q, addr):
        saved = self.records
        try:
            self.records = {qname(q): addr}
            return self.answer(q)
        finally:
            self.records = saved


def qname(q):
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    return ".".join(labels)


# asks server argv[1] for name argv[2] (A), reads answers until one carries its own id,
# connects to the address of the first answer it read to port argv[3]
RESOLVE_CONNECT = """
import socket, sys
server, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
q = b"\\x4a\\x21\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00" + b"".join(
    bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\x00\\x00\\x01\\x00\\x01"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
u.connect((server, 53)); u.send(q)
first = u.recv(512)
r = first
while r[:2] != q[:2]:
    r = u.recv(512)
ip = socket.inet_ntoa(first[-4:])
s = socket.socket()
try:
    s.connect((ip, port)); print("ok", ip)
except OSError as e:
    print("errno", e.errno, ip)
"""

NONBLOCKING = """
import asyncio, json, select, socket, sys
out, keep = {}, []  # sockets stay open: every connect has its own fd
for name, port in (("open", int(sys.argv[1])), ("closed", int(sys.argv[2]))):
    s = socket.socket(); s.setblocking(False)
    rc = s.connect_ex(("127.0.0.1", port))
    select.select([], [s], [], 5)
    out[name] = {"rc": rc, "so_error": s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), "fd": s.fileno()}
    keep.append(s)
async def main():
    r, w = await asyncio.open_connection("127.0.0.1", int(sys.argv[1]))
    out["asyncio"] = {"fd": w.get_extra_info("socket").fileno()}
    w.close()
asyncio.run(main())
print(json.dumps(out))
"""

QUOTA = 5
FORKS = 20
FORKER = f"""
import os, sys
r, w = os.pipe()
kids = []
for i in range({FORKS}):
    pid = os.fork()
    if pid == 0:
        os.close(w); os.read(r, 1); os._exit(0)
    kids.append(pid)
os.close(r)
print("forked", flush=True)
sys.stdin.readline()
os.close(w)
for k in kids:
    os.waitpid(k, 0)
print("done")
"""


def wait_for(s, pred, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        hit = [e for e in s.events() if pred(e)]
        if hit:
            return hit
        time.sleep(0.1)
    rh.fail(f"timed out waiting for {what}")


def tracked_pids():
    r = subprocess.run(["bpftool", "-j", "map", "dump", "name", "tracked"], capture_output=True, text=True)
    rh.check(r.returncode == 0, f"bpftool map dump: {r.stderr}")
    pids = set()
    entries = []
    for x in json.loads(r.stdout or "[]"):  # dump by name: one list per map of that name
        entries += x["elements"] if "elements" in x else [x]
    for entry in entries:
        e = entry.get("formatted", entry)
        k = e.get("key")
        if isinstance(k, list):
            k = int.from_bytes(bytes(int(b, 16) for b in k), "little")
        pids.add(int(k))
    return pids


trusted = SneakyResolver(TRUSTED, {blocked: "127.0.0.10"}, sneaky, "127.0.0.11")
forger = rh.DnsResponder(FORGER, {blocked: "127.0.0.9"})
by_policy = rh.DnsResponder(POLICY_RESOLVER, {viapolicy: "127.0.0.13"})
listeners = {h: rh.Listener(host=h) for h in ("127.0.0.9", "127.0.0.10", "127.0.0.11", "127.0.0.13")}
open_l = rh.Listener()
closed = rh.closed_port()
results = {}
try:
    with rh.Sensor(["--no-default-agents", "--policy", policy_path, "--dns-resolver", TRUSTED,
                    "--track-quota", str(QUOTA), "--agent-cmdline", f"stalecheck-{tag}"]) as s:
        def as_agent(code, *args):
            return subprocess.run([agent, "-c", code, *args], capture_output=True, text=True,
                                  timeout=60).stdout.strip()
        # forged first: had it been learned, the trusted answer's test would not tell
        results["forged"] = as_agent(RESOLVE_CONNECT, FORGER, blocked, str(listeners["127.0.0.9"].port))
        results["sneaky"] = as_agent(RESOLVE_CONNECT, TRUSTED, sneaky, str(listeners["127.0.0.11"].port))
        results["trusted"] = as_agent(RESOLVE_CONNECT, TRUSTED, blocked, str(listeners["127.0.0.10"].port))
        results["policy_resolver"] = as_agent(RESOLVE_CONNECT, POLICY_RESOLVER, viapolicy,
                                              str(listeners["127.0.0.13"].port))
        results["nonblocking"] = json.loads(as_agent(NONBLOCKING, str(open_l.port), str(closed)) or "{}")

        # quota: the forker holds its children until a health line names it
        p = subprocess.Popen([agent, "-c", FORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        rh.check(p.stdout.readline().strip() == "forked", "forker did not fork")
        hits = wait_for(s, lambda e: e.get("type") == "sensor.health" and any(
            q["agent_pid"] == p.pid for q in e.get("track_quota_hits", [])), "a health line naming the agent")
        results["quota_hit"] = [q for q in hits[-1]["track_quota_hits"] if q["agent_pid"] == p.pid][0]
        p.stdin.write("\n")
        p.stdin.flush()
        results["forker"] = p.communicate(timeout=30)[0].strip()

        # stale entries: argv-selected processes that are gone before user space tracks them
        # (the sensor is stopped meanwhile, so every one of them is)
        stale = []
        os.kill(s.pid(), signal.SIGSTOP)
        try:
            for i in range(30):
                c = subprocess.Popen(["/bin/true", f"stalecheck-{tag}"])
                c.wait()
                stale.append(c)
        finally:
            os.kill(s.pid(), signal.SIGCONT)
        stale_pids = {c.pid for c in stale}
        wait_for(s, lambda e: e.get("type") == "process.exec" and
                 (e.get("process") or {}).get("pid") == stale[-1].pid,
                 "the last argv-selected exec")
        results["stale_left"] = sorted(stale_pids & tracked_pids())
        s.fence()  # health counters written after all of the above
        events = s.stop()
finally:
    for x in [trusted, forger, by_policy, open_l] + list(listeners.values()):
        x.close()

print(json.dumps(results, indent=1))
EPERM = "errno 1"
rh.check(results["forged"] == "ok 127.0.0.9", f"forged DNS answer was learned: {results['forged']}")
rh.check(results["sneaky"] == "ok 127.0.0.11", f"answer to no query sent was learned: {results['sneaky']}")
rh.check(results["trusted"] == EPERM + " 127.0.0.10", f"trusted answer not learned: {results['trusted']}")
rh.check(results["policy_resolver"] == EPERM + " 127.0.0.13",
         f"answer of the policy's resolver not learned: {results['policy_resolver']}")

dns = [e for e in rh.of_type(events, "net.dns") if tag in (e.get("query") or "")]
rh.check(any(e["server"] == FORGER and e.get("trusted") is False for e in dns), f"forged net.dns: {dns}")
rh.check(any(e["server"] == TRUSTED and e.get("trusted") is True for e in dns), f"trusted net.dns: {dns}")
last = rh.health(events)[-1]
rh.check(last["kernel"]["dns_answers_ignored"] >= 2, f"dns_answers_ignored: {last['kernel']}")
acts = [e for e in rh.of_type(events, "policy.action") if e["rule"] == "deny-blocked"]
rh.check(any(a["matched"].startswith("127.0.0.10:") for a in acts), f"deny-blocked actions: {acts}")
rh.check(not any(a["matched"].startswith(("127.0.0.9:", "127.0.0.11:")) for a in acts),
         f"a forged address was acted on: {acts}")

nb = results["nonblocking"]
rh.check(nb.get("open", {}).get("rc") == 115 and nb.get("closed", {}).get("so_error") == 111,
         f"the client did not connect non-blocking as expected: {nb}")
conns = [e for e in rh.of_type(events, "net.connect") if e.get("address") == "127.0.0.1"]


def connect_event(port, fd):
    hits = [e for e in conns if e["port"] == port and e["fd"] == fd]
    rh.check(len(hits) == 1, f"net.connect to port {port} fd {fd}: {hits} (all: {conns})")
    return hits[0]


ok = connect_event(open_l.port, nb["open"]["fd"])
rh.check(ok["in_progress"] is True and ok["result"] == 0 and ok["error"] is None and
         ok["connect_ms"] is not None, f"non-blocking connect outcome: {ok}")
ref = connect_event(closed, nb["closed"]["fd"])
rh.check(ref["in_progress"] is True and ref["error"] == "ECONNREFUSED" and ref["connect_ms"] is not None,
         f"refused non-blocking connect: {ref}")
aio = connect_event(open_l.port, nb["asyncio"]["fd"])
rh.check(aio["in_progress"] is True and aio["error"] is None, f"asyncio connect: {aio}")
rh.check(not any(e.get("error") == "EINPROGRESS" for e in conns), f"connects left EINPROGRESS: {conns}")

rh.check(results["forker"] == "done", f"forker: {results['forker']}")
q = results["quota_hit"]
rh.check(q["untracked_children"] >= FORKS + 1 - QUOTA and q["tracked"] <= QUOTA, f"quota: {q}")
rh.check(last["kernel"]["drop_track_quota"] >= FORKS + 1 - QUOTA, f"drop_track_quota: {last['kernel']}")
forks = [e for e in rh.of_type(events, "process.fork")
         if (e.get("agent") or {}).get("root_pid") == q["agent_pid"]]
rh.check(len(forks) <= QUOTA - 1, f"{len(forks)} children tracked past the quota of {QUOTA}")

rh.check(last["pipeline"]["track_failed"] >= 30, f"the stale case did not happen: {last['pipeline']}")
rh.check(results["stale_left"] == [], f"exited argv-selected processes left in `tracked`: {results['stale_left']}")
print("ok")
