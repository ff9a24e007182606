#!/usr/bin/env python3
"""Foundation e2e: a tracked workload tree's process, file, network and DNS activity
appears exactly once with the right pid, ppid, agent, absolute path and result; an
untracked sibling doing the same produces nothing."""
import errno
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
from workloads.foundation import Foundation  # noqa: E402

rh.require_bpf()
w = Foundation()  # the workload lives in workloads/foundation.py (test_replay_foundation runs it too)
tag, base, agent_name, agent_exe = w.tag, w.base, w.agent_name, w.agent_exe
l4, l6, closed, dns_host, W, W2 = w.l4, w.l6, w.closed, w.dns_host, w.W, w.W2

try:
    with rh.Sensor(w.selectors) as s:
        w.run(s)
        events = s.stop()
finally:
    w.close()
tracked, sibling = w.tracked, w.sibling

me = os.getpid()
wpid = tracked.pid
spid = sibling.pid
evs = [e for e in events if e["type"] != "sensor.health"]

# nothing from the untracked sibling or its directory
for e in evs:
    rh.check(e["process"]["pid"] != spid, f"event from untracked sibling: {e}")
    rh.check(W2 not in str(e.get("path", "")) + str(e.get("new_path", "")),
             f"event for the sibling's files: {e}")

# every event of the tree carries the agent rooted at the workload
for e in evs:
    a = e.get("agent")
    rh.check(a and a["root_pid"] == wpid and a["name"] == agent_name,
             f"event without the workload's agent: {e}")


def one(op, path, **want):
    hits = [e for e in evs if e["type"] == "file.mutation" and e["op"] == op and e["path"] == path
            and all(e.get(k) == v for k, v in want.items())]
    rh.check(len(hits) == 1, f"expected exactly one {op} {path} {want}, got {len(hits)}: "
             + "\n".join(str(h) for h in hits))
    return hits[0]


def by_wpid(e):
    rh.check(e["process"]["pid"] == wpid and e["process"]["ppid"] == me,
             f"wrong pid/ppid {e['process']['pid']}/{e['process']['ppid']}: {e}")
    return e


by_wpid(one("create", f"{W}/a.txt", result=0))
writes_a = [e for e in evs if e["type"] == "file.mutation" and e["op"] == "write"
            and e["path"] == f"{W}/a.txt"]
rh.check(sorted(e["bytes"] for e in writes_a) == [3, 5], f"writes to a.txt: {writes_a}")
truncs = [e for e in evs if e["type"] == "file.mutation" and e["op"] == "truncate"
          and e["path"] == f"{W}/a.txt"]
rh.check(len(truncs) == 2, f"two truncates of a.txt (O_TRUNC, truncate()): {truncs}")
by_wpid(one("rename", f"{W}/a.txt", new_path=f"{W}/b.txt", result=0))
by_wpid(one("create", f"{W}/c.txt"))
by_wpid(one("rename", f"{W}/b.txt", new_path=f"{W}/c.txt", result=0))
by_wpid(one("mkdir", f"{W}/sub", result=0))
by_wpid(one("rename", f"{W}/c.txt", new_path=f"{W}/sub/c.txt", result=0))
rh.check(one("chmod", f"{W}/sub/c.txt")["mode"] == "0600", "chmod mode")
c = one("chown", f"{W}/sub/c.txt", result=0)
rh.check(c["owner"] == os.getuid() and c["group"] == os.getgid(), f"chown ids {c}")
by_wpid(one("link", f"{W}/sub/c.txt", new_path=f"{W}/hard.txt", result=0))
by_wpid(one("symlink", f"{W}/sym.txt", target="sub/c.txt", result=0))
by_wpid(one("unlink", f"{W}/hard.txt", result=0))
u = one("unlink", f"{W}/does-not-exist")
rh.check(u["result"] == errno.ENOENT and u["error"] == "ENOENT", f"failed unlink {u}")
by_wpid(one("create", f"{W}/rel.txt"))
one("write", f"{W}/rel.txt", bytes=2)
one("mkdir", f"{W}/rdir")
one("rmdir", f"{W}/rdir")
one("rename", f"{W}/rel.txt", new_path=f"{W}/rel2.txt")
one("create", f"{W}/sub/d.txt")
one("write", f"{W}/sub/d.txt", bytes=8, writes=1)  # its failed write (EFAULT) adds nothing
one("unlink", f"{W}/sub/d.txt")
one("mkdir", f"{W}/sub/dd")
one("rmdir", f"{W}/sub/dd")

# long names and the longest paths (the workload's loop, redone here)
one("create", f"{W}/{'L' * 200}/{'M' * 41}/{'n' * 13}")
deep = W
while 4095 - len(deep) - 1 > 200:
    deep += "/" + "d" * min(250, 4095 - len(deep) - 1 - 100)
longest = one("create", f"{deep}/{'f' * (4095 - len(deep) - 1)}")
rh.check(len(longest["path"]) == 4095 and not longest.get("path_truncated"),
         f"a 4,095-byte path whole: {len(longest['path'])} {longest.get('path_truncated')}")
cut_name = "g" * (4096 - len(deep) - 1)
cut = [e for e in evs if e["type"] == "file.mutation" and e["op"] == "create"
       and e["path"].endswith("/" + cut_name)]
rh.check(len(cut) == 1 and cut[0].get("path_truncated") is True,
         f"a 4,096-byte path cut and flagged: {[(len(e['path']), e.get('path_truncated')) for e in cut]}")

# the shell child: exec'd, wrote its file, exited 3
sh_exec = [e for e in evs if e["type"] == "process.exec" and e["process"]["exe"] in
           ("/bin/sh", "/usr/bin/sh", "/usr/bin/dash", "/bin/dash")]
rh.check(len(sh_exec) == 1, f"one shell exec: {sh_exec}")
sh_pid = sh_exec[0]["process"]["pid"]
rh.check(sh_exec[0]["process"]["ppid"] == wpid, f"shell ppid {sh_exec[0]}")
rh.check(sh_exec[0]["process"]["args"][:2] == ["/bin/sh", "-c"], f"shell args {sh_exec[0]}")
sh_create = one("create", f"{W}/sh.txt")
rh.check(sh_create["process"]["pid"] == sh_pid, f"sh.txt created by the shell: {sh_create}")
one("write", f"{W}/sh.txt", bytes=6)
# the child that exited with its file open: the exit reports the writes, under its pid
lo_create = one("create", f"{W}/left-open.txt")
lo_write = one("write", f"{W}/left-open.txt", bytes=7, writes=2)
rh.check(lo_write["process"]["pid"] == lo_create["process"]["pid"] != wpid,
         f"left-open.txt written by the child: {lo_create} {lo_write}")
sh_exit = [e for e in evs if e["type"] == "process.exit" and e["process"]["pid"] == sh_pid]
rh.check(len(sh_exit) == 1 and sh_exit[0]["exit_code"] == 3, f"shell exit: {sh_exit}")

# the workload's own exec and exit
w_exec = [e for e in evs if e["type"] == "process.exec" and e["process"]["pid"] == wpid]
rh.check(len(w_exec) == 1 and w_exec[0]["new_agent"], f"workload exec: {w_exec}")
rh.check(w_exec[0]["process"]["args"][0] == agent_exe or agent_exe in w_exec[0]["process"]["args"],
         f"workload args {w_exec[0]['process']['args']}")
w_exit = [e for e in evs if e["type"] == "process.exit" and e["process"]["pid"] == wpid]
rh.check(len(w_exit) == 1 and w_exit[0]["exit_code"] == 7 and w_exit[0]["signal"] is None,
         f"workload exit: {w_exit}")

# network
conns = [e for e in evs if e["type"] == "net.connect" and e["family"] in ("ipv4", "ipv6")]
def conn(addr, port):
    hits = [e for e in conns if e["address"] == addr and e["port"] == port]
    rh.check(len(hits) == 1, f"one connect to {addr}:{port}: {hits}")
    return hits[0]
rh.check(conn("127.0.0.1", l4.port)["result"] == 0, "v4 connect ok")
rh.check(conn("::1", l6.port)["result"] == 0, "v6 connect ok")
refused = conn("127.0.0.1", closed)
rh.check(refused["result"] == errno.ECONNREFUSED and refused["error"] == "ECONNREFUSED",
         f"refused connect {refused}")
unix = [e for e in evs if e["type"] == "net.connect" and e["family"] == "unix"]
rh.check(sorted(e["address"] for e in unix) == sorted([f"{W}/agent.sock", "@rein-" + os.path.basename(W)])
         and all(e["result"] == 0 and e["port"] is None for e in unix), f"unix connects: {unix}")
udp = [e for e in evs if e["type"] == "net.connect" and e["address"] == dns_host and e["port"] == 53]
rh.check(len(udp) == 1, f"UDP connect to the DNS server: {udp}")

# DNS
dnsev = [e for e in evs if e["type"] == "net.dns" and e["query"] == f"llm-{tag}.example"]
rh.check(len(dnsev) == 1, f"one DNS event: {dnsev}")
d = dnsev[0]
rh.check(d["query_type"] == "A" and d["rcode"] == 0 and d["server"] == dns_host, f"dns {d}")
rh.check([a["data"] for a in d["answers"]] == ["10.9.8.7"], f"dns answers {d['answers']}")
rh.check(d["process"]["pid"] == wpid, f"dns pid {d}")

# health: started and stopped, with no drops
h = rh.health(events)
rh.check(h and h[0]["state"] == "started" and h[-1]["state"] == "stopped", "health start/stop")
k = h[-1]["kernel"]
rh.check(k["drop_ringbuf_full"] == 0 and k["drop_pending_full"] == 0, f"drops: {k}")
# detections run by default: this ordinary workload must not trigger any (false positives)
det = [e for e in events if e["type"].startswith("detect.")]
rh.check(not det, f"detections on the foundation workload: {det[:3]}")
print(f"PASS: {len(evs)} events checked")
