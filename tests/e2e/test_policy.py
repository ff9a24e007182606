#!/usr/bin/env python3
"""Policy on the real kernel: a denied connect fails with EPERM; a host-name rule blocks the
address the agent resolved; a write to a protected path kills the writer (and the processes sharing its file table or its memory, and a
process the agent took control of by ptrace or process_vm_writev); a denied exec is
killed before it runs its own code, and so is the dynamic loader running it; a paused exec is approved, denied or times out; a budget
below the mock server's costs blocks the agent's next LLM connection; untracked processes
are never affected; policy errors name file:line:col; a bad reload keeps the old policy."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
rein = rh.rein_bin()
tag = uuid.uuid4().hex[:8]
base = rh.workdir("rein-pol-")
agent_name = f"polagent_{tag}"
agent = os.path.join(base, agent_name)          # a python3 the policy selects by name
shutil.copy("/usr/bin/python3", agent)
for tool in ("denied_tool", "held_tool", "real_tool"):  # touch(1) copies: running = creating a marker
    shutil.copy("/usr/bin/touch", os.path.join(base, tool))
# exec rules name what is exec'd: a symlink (as /usr/bin/nc is) and a script (whose exe is
# its interpreter) are denied by the names the rules give them
os.symlink(os.path.join(base, "real_tool"), os.path.join(base, "linked_tool"))
with open(os.path.join(base, "script_tool"), "w") as f:
    f.write("#!/bin/sh\nexec touch \"$1\"\n")
os.chmod(os.path.join(base, "script_tool"), 0o755)
LOADER = "/lib64/ld-linux-x86-64.so.2"
rh.check(os.path.exists(LOADER), f"{LOADER}: the dynamic loader of this architecture")
os.mkdir(os.path.join(base, "protected"))
# a program whose path is longer than the kernel's 256-byte rule key: a rule on its file
# name must still find it
deep_dir = os.path.join(base, "d" * 200, "e" * 200)
os.makedirs(deep_dir)
deep_tool = os.path.join(deep_dir, f"deep_tool_{tag}")
shutil.copy("/usr/bin/touch", deep_tool)
vm_sharer = os.path.join(base, "vm_sharer")
cc = subprocess.run(["cc", "-O1", "-o", vm_sharer, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                              "vm_sharer.c")], capture_output=True, text=True)
rh.check(cc.returncode == 0, f"building vm_sharer.c: {cc.stderr}")
sock_path = os.path.join(base, "control.sock")
policy_path = os.path.join(base, "policy.yaml")
POLICY = f"""apiVersion: rein/v1
agents:
  - name: polagent
    exe: [{agent_name}]
autodiscover: false
rules:
  - name: deny-cidr
    agents: [polagent]
    action: deny
    network:
      cidrs: ["127.0.0.2/32"]
  - name: deny-host
    action: deny
    network:
      hosts: ["evil-{tag}.example"]
  - name: protect
    action: deny
    file:
      paths: ["{base}/protected/**"]
  - name: no-tool
    action: deny
    exec:
      paths: ["{base}/denied_tool", "{base}/linked_tool", "{base}/script_tool"]
  - name: hold-tool
    action: pause
    exec:
      paths: [held_tool]
  - name: no-fileless
    action: deny
    exec:
      fileless: true
  - name: no-deep
    action: deny
    exec:
      paths: [deep_tool_{tag}]
budgets:
  - name: tiny
    agents: [polagent]
    per: name
    window: 1h
    usd: 0.000001
    action: block-llm
holds:
  timeout: 3s
  default: deny
"""
with open(policy_path, "w") as f:
    f.write(POLICY)

# policy errors: file:line:col and a reason, exit 1
bad = os.path.join(base, "bad.yaml")
with open(bad, "w") as f:
    f.write("apiVersion: rein/v1\nrules:\n  - name: x\n    action: dney\n    file: {paths: [\"/a/**\"]}\n")
chk = subprocess.run([rein, "policy", "check", bad], capture_output=True, text=True)
rh.check(chk.returncode == 1 and f"{bad}:4:13: rules[0].action" in chk.stdout, f"policy check: {chk.stdout}")
ok = subprocess.run([rein, "policy", "check", policy_path], capture_output=True, text=True)
rh.check(ok.returncode == 0, f"valid policy rejected: {ok.stdout} {ok.stderr}")

l2 = rh.Listener(host="127.0.0.2")
l4 = rh.Listener(host="127.0.0.4")
l5 = rh.Listener(host="127.0.0.5")
l6 = rh.Listener(host="127.0.0.6")
dns = rh.DnsResponder("127.0.0.153", {f"evil-{tag}.example": "127.0.0.4", f"good-{tag}.example": "127.0.0.5"})
mock = lh.MockServer()


def as_agent(code, *args, timeout=60):
    return subprocess.run([agent, "-c", code, *args], capture_output=True, text=True, timeout=timeout)


# Shares its file table with a child (raw clone(CLONE_FILES | SIGCHLD): a process, not a
# thread), then opens a protected file. The child waits (bounded) for that descriptor to
# appear in the shared table and changes the file through it: it must not live to do so.
SHARER = f"""
import ctypes, os, sys, time
target = {os.path.join(base, "protected", "shared")!r}
pid = ctypes.CDLL(None, use_errno=True).syscall(56, 0x400 | 17, 0, 0, 0, 0)
if pid == 0:
    for _ in range(1000):
        for fd in range(3, 256):
            try:
                if os.readlink(f"/proc/self/fd/{{fd}}") == target:
                    os.ftruncate(fd, 4096)  # judged after it is done: only a kill before stops it
                    open({os.path.join(base, "sharer_alive")!r}, "w").close()
                    os._exit(0)
            except OSError:
                pass
        time.sleep(0.01)
    os._exit(3)
print(pid, flush=True)
open(target, "w")
print("survived", flush=True)
"""

FILELESS = """
import os, sys
fd = os.memfd_create("payload")
os.write(fd, open("/usr/bin/touch", "rb").read())
pid = os.fork()
if pid == 0:
    os.execve(fd, ["payload", sys.argv[1]], {})
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""

# bpf(BPF_MAP_GET_FD_BY_ID) of map ID: with the fd of the sensor's `tracked` map an agent
# could untrack itself. Prints the fd and errno if it lives.
BPF_GRAB = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
attr = (ctypes.c_uint32 * 32)()
attr[0] = int(sys.argv[1])
print(libc.syscall(321, 14, ctypes.byref(attr), ctypes.sizeof(attr)), ctypes.get_errno())
"""

# An untracked process the agent will take control of: prints its pid and the address of a
# byte the agent may overwrite, waits for a line, shows that byte, then writes to TARGET.
VICTIM = """
import ctypes, os, sys
buf = ctypes.create_string_buffer(b"-")
print(os.getpid(), ctypes.addressof(buf), flush=True)
sys.stdin.readline()
print(buf.value.decode(), flush=True)
open(sys.argv[1], "w").write("x")
print("survived", flush=True)
"""

# The agent takes control of process PID: PTRACE_SEIZE (then exits, which detaches it), or
# process_vm_writev of one byte at ADDR. Prints the call's result and errno.
CONTROL = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
pid, how = int(sys.argv[1]), sys.argv[2]
if how == "ptrace":
    libc.ptrace.argtypes = [ctypes.c_long] * 4
    r = libc.ptrace(0x4206, pid, 0, 0)
else:
    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    data = ctypes.create_string_buffer(b"X")
    local, remote = iovec(ctypes.addressof(data), 1), iovec(int(sys.argv[3]), 1)
    libc.process_vm_writev.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong,
                                       ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    r = libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
print(r, ctypes.get_errno())
"""

CONNECT = """
import socket, sys
s = socket.socket()
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("ok")
except OSError as e:
    print("errno", e.errno)
"""
RESOLVE_CONNECT = """
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
q = b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00" + b"".join(
    bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\x00\\x00\\x01\\x00\\x01"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
u.connect(("127.0.0.153", 53)); u.send(q); r = u.recv(512)
ip = socket.inet_ntoa(r[-4:])
s = socket.socket()
try:
    s.connect((ip, port)); print("ok", ip)
except OSError as e:
    print("errno", e.errno, ip)
"""
TLS_SNI = """
import socket, ssl, sys
s = socket.create_connection((sys.argv[3], int(sys.argv[2])))
try:
    ssl.create_default_context().wrap_socket(s, server_hostname=sys.argv[1])
except Exception:
    pass
sys.stdin.read()   # alive until the test has seen the sensor judge the name
print("survived")
"""


def sni_client(name, port, addr, judged):
    """Runs TLS_SNI as the agent; `judged()` returns once the sensor has judged its name.
    Returns (exit status, output): a kill ends it first, otherwise end of input does."""
    p = subprocess.Popen([agent, "-c", TLS_SNI, name, port, addr], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    judged(p)
    out = p.communicate(input="", timeout=60)[0]
    return p.returncode, out.strip()
results = {}
try:
    # 127.0.0.153 is no resolver of this host: named here, its answers teach the host rule
    with rh.Sensor(["--no-default-agents", "--policy", policy_path, "--control-socket", sock_path,
                    "--dns-resolver", "127.0.0.153"]) as s:
        results["cidr"] = as_agent(CONNECT, "127.0.0.2", str(l2.port)).stdout.strip()
        results["untracked_cidr"] = "ok"
        c = socket.socket()
        try:
            c.connect(("127.0.0.2", l2.port))
        except OSError as e:
            results["untracked_cidr"] = f"errno {e.errno}"
        c.close()
        results["evil"] = as_agent(RESOLVE_CONNECT, f"evil-{tag}.example", str(l4.port)).stdout.strip()
        results["good"] = as_agent(RESOLVE_CONNECT, f"good-{tag}.example", str(l5.port)).stdout.strip()
        # a host-name rule also acts on the TLS server name a tracked process sends
        def killed(p):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass  # not killed: its output says so

        def seen_tls(name):
            return lambda p: s.wait_for(lambda e: e["type"] == "net.tls" and e.get("sni") == name,
                                        f"the net.tls event of {name}")
        sni_evil = sni_client(f"evil-{tag}.example", str(l5.port), "127.0.0.5", killed)
        sni_good = sni_client(f"good-{tag}.example", str(l6.port), "127.0.0.6", seen_tls(f"good-{tag}.example"))
        # ... and the address behind the denied name is refused from then on
        results["after_sni"] = as_agent(CONNECT, "127.0.0.5", str(l5.port)).stdout.strip()
        results["sni"] = (sni_evil[0], sni_good[0], sni_good[1])
        w = as_agent(f"open('{base}/protected/secret', 'w').write('x'); print('survived')")
        results["protected"] = (w.returncode, w.stdout.strip())
        # a process that shares the writer's file table (clone(CLONE_FILES), not a thread)
        # could use the descriptor the denied open left in it: the deny kills it too
        sharer = subprocess.Popen([agent, "-c", SHARER], stdout=subprocess.PIPE, text=True)
        sharer_child = int(sharer.stdout.readline())
        sharer.wait(timeout=60)
        results["sharer"] = (sharer.returncode, s.wait_for(
            lambda e: e["type"] == "process.exit" and e["process"]["pid"] == sharer_child,
            "the exit of the process sharing the denied writer's file table"))
        # a process that shares the writer's memory (clone(CLONE_VM), not a thread) could read
        # or change what the denied call put there: the deny kills it too
        vm = subprocess.Popen([agent, "-c", f"import subprocess; r = subprocess.run(['{vm_sharer}', "
                               f"'{base}/protected/vm_shared', '{base}/vm_sharer_alive']); print(r.returncode)"],
                              stdout=subprocess.PIPE, text=True)
        vm_child = int(vm.stdout.readline())
        vm_out = vm.communicate(timeout=60)[0].split()
        results["vm_sharer"] = (vm_out, s.wait_for(
            lambda e: e["type"] == "process.exit" and e["process"]["pid"] == vm_child,
            "the exit of the process sharing the denied writer's memory"))
        d = as_agent(f"import subprocess; r = subprocess.run(['{base}/denied_tool', '{base}/denied_marker']); print(r.returncode)")
        results["denied_exec"] = d.stdout.strip()
        for tool in ("linked_tool", "script_tool"):
            d = as_agent(f"import subprocess; r = subprocess.run(['{base}/{tool}', '{base}/{tool}_marker']); print(r.returncode)")
            results[tool] = (d.stdout.strip(), os.path.exists(f"{base}/{tool}_marker"))
        # the file behind the link, exec'd by its own name, is not what the rule names
        d = as_agent(f"import subprocess; r = subprocess.run(['{base}/real_tool', '{base}/real_marker']); print(r.returncode)")
        results["real_tool"] = (d.stdout.strip(), os.path.exists(f"{base}/real_marker"))
        # the dynamic loader given a denied program runs it without an exec of it: the rule
        # acts when the loader maps the program as code; another program runs so unharmed
        for tool in ("denied_tool", "real_tool"):
            d = as_agent(f"import subprocess; r = subprocess.run(['{LOADER}', '{base}/{tool}', '{base}/{tool}_loaded']); print(r.returncode)")
            results[f"loader_{tool}"] = (d.stdout.strip(), os.path.exists(f"{base}/{tool}_loaded"))
        d = as_agent(f"import subprocess; r = subprocess.run(['{deep_tool}', '{base}/deep_marker']); print(r.returncode)")
        results["deep_tool"] = (d.stdout.strip(), os.path.exists(f"{base}/deep_marker"))
        # a program with no name on disk (a memfd, run with fexecve) is what a fileless rule names
        d = as_agent(FILELESS, f"{base}/fileless_marker")
        results["fileless"] = (d.stdout.strip(), os.path.exists(f"{base}/fileless_marker"))
        # a process the agent takes control of (ptrace, process_vm_writev) joins the agent:
        # what it is made to do is the agent's doing, and the rules apply to it
        for how in ("ptrace", "process_vm_writev"):
            v = subprocess.Popen([sys.executable, "-c", VICTIM, f"{base}/protected/controlled_{how}"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            vpid, vaddr = v.stdout.readline().split()
            ctl = as_agent(CONTROL, vpid, how, vaddr).stdout.split()
            ev = s.wait_for(lambda e: e["type"] == "process.controlled" and e["process"]["pid"] == int(vpid),
                            f"process.controlled of the process the agent took control of by {how}")
            out = v.communicate("\n", timeout=60)[0].split()
            results[f"controlled_{how}"] = (ctl, ev["mechanism"], ev["agent"] is not None, out, v.returncode)
        # raw and packet sockets send what no connect or send hook sees: under a network rule
        # the agent may not open one (killed at socket(2)); an untracked process may
        RAW = "import socket, sys; s = socket.socket(*map(int, sys.argv[1:])); print('survived')"
        for fam, typ in ((socket.AF_INET, socket.SOCK_RAW), (socket.AF_PACKET, socket.SOCK_DGRAM)):
            r = as_agent(RAW, str(int(fam)), str(int(typ)), str(socket.IPPROTO_ICMP if fam == socket.AF_INET else 0))
            ev = s.wait_for(lambda e: e["type"] == "net.mechanism" and e["process"]["pid"] > 0
                            and e["family"] == ("inet" if fam == socket.AF_INET else "packet"),
                            f"the net.mechanism event of a raw socket ({fam}, {typ})")
            results[f"raw_{int(fam)}"] = (r.returncode, r.stdout.strip(), ev["enforcement"])
        untracked_raw = subprocess.run([sys.executable, "-c", RAW, str(int(socket.AF_INET)), str(int(socket.SOCK_RAW)),
                                        str(socket.IPPROTO_ICMP)],
                                       capture_output=True, text=True, timeout=60)
        results["raw_untracked"] = untracked_raw.stdout.strip()
        # the sensor's own objects and process: taking its map by id (under a rule) or
        # attaching to it kills the agent before it holds anything
        maps = json.loads(subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True,
                                         text=True, check=True).stdout)
        tracked_id = [m["id"] for m in maps if m.get("name") == "tracked"]
        rh.check(tracked_id, f"the sensor's tracked map in bpftool's list: {[m.get('name') for m in maps]}")
        g = as_agent(BPF_GRAB, str(tracked_id[-1]))
        ev = s.wait_for(lambda e: e["type"] == "sensor.tamper" and e["attempt"] == "bpf MAP_GET_FD_BY_ID",
                        "the sensor.tamper event of a map taken by id")
        results["bpf_grab"] = (g.returncode, g.stdout.strip(), ev["enforcement"])
        g = as_agent(CONTROL, str(s.proc.pid), "ptrace", "0")
        ev = s.wait_for(lambda e: e["type"] == "sensor.tamper" and e["attempt"] == "ptrace of the sensor",
                        "the sensor.tamper event of a ptrace of the sensor")
        results["ptrace_sensor"] = (g.returncode, g.stdout.strip(), ev["enforcement"], s.proc.poll())
        u = subprocess.run([os.path.join(base, "denied_tool"), os.path.join(base, "untracked_marker")])
        results["untracked_exec"] = u.returncode

        # pauses: approve, deny, time out
        def held(marker):
            return subprocess.Popen([agent, "-c", f"import subprocess; r = subprocess.run(['{base}/held_tool', '{base}/{marker}']); print(r.returncode)"],
                                    stdout=subprocess.PIPE, text=True)

        def wait_hold(n_before):
            for _ in range(100):
                r = subprocess.run([rein, "holds", "--socket", sock_path], capture_output=True, text=True)
                hs = json.loads(r.stdout)["holds"] if r.returncode == 0 else []
                if len(hs) > n_before:
                    return hs[-1]
                time.sleep(0.05)
            rh.fail(f"no hold appeared: {r.stdout} {r.stderr}")

        p_ok = held("approved_marker")
        h = wait_hold(0)
        rh.check(h["rule"] == "hold-tool" and h["what"].endswith("held_tool"), f"hold {h}")
        a = subprocess.run([rein, "approve", str(h["id"]), "--socket", sock_path], capture_output=True, text=True)
        rh.check(a.returncode == 0 and '"approved"' in a.stdout, f"approve: {a.stdout} {a.stderr}")
        results["approved"] = p_ok.communicate(timeout=30)[0].strip()
        p_no = held("denied_hold_marker")
        h = wait_hold(0)
        subprocess.run([rein, "deny", str(h["id"]), "--socket", sock_path], check=True, capture_output=True)
        results["hold_denied"] = p_no.communicate(timeout=30)[0].strip()
        p_to = held("timeout_marker")
        wait_hold(0)
        results["hold_timeout"] = p_to.communicate(timeout=30)[0].strip()

        # budget (per agent name): the first call crosses it; the next session's LLM connection is refused
        client = [os.path.join(lh.MOCK, "clients", "py_client.py"), "--base-url", mock.https,
                  "--cacert", mock.ca, "--path", "/v1/chat/completions", "--model", "gpt-4o"]
        first = subprocess.run([agent] + client, capture_output=True, text=True, timeout=60)
        # the budget acts when the crossing call's response has been decoded
        s.wait_for(lambda e: e.get("type") == "policy.action" and e.get("kind") == "budget",
                   "the budget decision")
        second = subprocess.run([agent] + client, capture_output=True, text=True, timeout=60)
        results["budget_first"] = json.loads(first.stdout.strip().splitlines()[-1])["ok"]
        results["budget_second"] = json.loads(second.stdout.strip().splitlines()[-1])
        untracked_llm = subprocess.run(["/usr/bin/python3"] + client, capture_output=True, text=True, timeout=60)
        # a host-name rule also applies to the Host header of requests it decodes, after the
        # fact (plain HTTP here: the budget above already blocks this agent's TLS endpoint)
        host_hdr = subprocess.run([agent, client[0], "--base-url", mock.http, "--path", "/v1/messages",
                                   "--model", "claude-haiku-4-5", "--count", "300", "--keep-alive", "y",
                                   "--header", f"Host: evil-{tag}.example"],
                                  capture_output=True, text=True, timeout=120)
        results["host_header"] = host_hdr.returncode
        results["budget_untracked"] = json.loads(untracked_llm.stdout.strip().splitlines()[-1])["ok"]

        # a bad reload keeps the running policy
        with open(policy_path, "w") as f:
            f.write(POLICY.replace("action: deny\n    network:\n      cidrs", "action: block\n    network:\n      cidrs", 1))
        s.wait_for(lambda e: e.get("type") == "sensor.health" and e.get("state") == "policy_rejected"
                   and "block" in e.get("error", ""), "the rejected reload")
        results["after_bad_reload"] = as_agent(CONNECT, "127.0.0.2", str(l2.port)).stdout.strip()
        s.fence()
        events = s.stop()
finally:
    for x in (l2, l4, l5, l6, dns):
        x.close()
    mock.stop()

print(json.dumps(results, indent=1))
EPERM = "errno 1"
rh.check(results["cidr"] == EPERM, f"denied CIDR connect: {results['cidr']}")
rh.check(results["untracked_cidr"] == "ok", f"untracked connect affected: {results['untracked_cidr']}")
rh.check(results["evil"] == EPERM + " 127.0.0.4", f"host rule: {results['evil']}")
rh.check(results["good"] == "ok 127.0.0.5", f"other host affected: {results['good']}")  # before the SNI case
rh.check(results["protected"][0] == -9 and results["protected"][1] == "", f"protected write: {results['protected']}")
rh.check(results["denied_exec"] == "-9", f"denied exec: {results['denied_exec']}")
rh.check(results["sharer"][0] == -9 and results["sharer"][1]["signal"] == 9 and
         not os.path.exists(os.path.join(base, "sharer_alive")),
         f"the denied writer and the process sharing its file table are killed: {results['sharer']}")
rh.check(results["vm_sharer"][0] == ["-9"] and results["vm_sharer"][1]["signal"] == 9 and
         not os.path.exists(os.path.join(base, "vm_sharer_alive")),
         f"the denied writer and the process sharing its memory are killed: {results['vm_sharer']}")
rh.check(os.path.getsize(os.path.join(base, "protected", "shared")) == 0,
         "the file was not changed through the shared file table")
rh.check(results["linked_tool"] == ("-9", False), f"exec of a denied symlink: {results['linked_tool']}")
rh.check(results["script_tool"] == ("-9", False), f"exec of a denied script: {results['script_tool']}")
rh.check(results["real_tool"] == ("0", True), f"exec of the link's target by its own name: {results['real_tool']}")
rh.check(results["loader_denied_tool"] == ("-9", False),
         f"the loader running a denied program: {results['loader_denied_tool']}")
rh.check(results["loader_real_tool"] == ("0", True), f"the loader running another: {results['loader_real_tool']}")
rh.check(results["deep_tool"] == ("-9", False), f"a program past 256 bytes of path, by its file name: {results['deep_tool']}")
rh.check(results["fileless"] == ("-9", False), f"a fileless exec under a fileless rule: {results['fileless']}")
rh.check(results["controlled_ptrace"] == (["0", "0"], "ptrace", True, ["-"], -9),
         f"a process the agent seized with ptrace, then writing a protected file: {results['controlled_ptrace']}")
rh.check(results["controlled_process_vm_writev"] == (["1", "0"], "process_vm_writev", True, ["X"], -9),
         f"a process the agent wrote into, then writing a protected file: {results['controlled_process_vm_writev']}")
for how in ("ptrace", "process_vm_writev"):
    # the open is judged when it returns (the file exists by then); the write never comes
    rh.check(os.path.getsize(os.path.join(base, "protected", f"controlled_{how}")) == 0,
             f"the process controlled by {how} wrote to the protected file")
for fam in (socket.AF_INET, socket.AF_PACKET):
    rh.check(results[f"raw_{int(fam)}"] == (-9, "", "killed"),
             f"a raw socket (family {int(fam)}) opened by an agent under a network rule: {results[f'raw_{int(fam)}']}")
rh.check(results["bpf_grab"] == (-9, "", "killed"), f"the sensor's map taken by id: {results['bpf_grab']}")
rh.check(results["ptrace_sensor"] == (-9, "", "killed", None), f"a ptrace of the sensor: {results['ptrace_sensor']}")
rh.check(results["raw_untracked"] == "survived", f"an untracked raw socket: {results['raw_untracked']}")
rh.check(not os.path.exists(os.path.join(base, "denied_marker")), "denied tool ran its own code")
rh.check(results["untracked_exec"] == 0 and os.path.exists(os.path.join(base, "untracked_marker")),
         "untracked exec affected")
rh.check(results["approved"] == "0" and os.path.exists(os.path.join(base, "approved_marker")), f"approved: {results['approved']}")
rh.check(results["hold_denied"] == "-9" and not os.path.exists(os.path.join(base, "denied_hold_marker")),
         f"hold denied: {results['hold_denied']}")
rh.check(results["hold_timeout"] == "-9" and not os.path.exists(os.path.join(base, "timeout_marker")),
         f"hold timeout: {results['hold_timeout']}")
rh.check(results["budget_first"] == 1, "first LLM call failed")
rh.check(results["budget_second"]["ok"] == 0, f"call after the budget went through: {results['budget_second']}")
rh.check(results["budget_untracked"] == 1, "untracked LLM client affected by the budget")
rh.check(results["sni"] == (-9, 0, "survived"), f"TLS server name rule: {results['sni']}")
tls = [e for e in events if e["type"] == "net.tls"]
rh.check({f"evil-{tag}.example", f"good-{tag}.example"} <= {e["sni"] for e in tls}, f"net.tls events: {tls}")
rh.check({e["address"] for e in tls if e["sni"] and tag in e["sni"]} == {"127.0.0.5", "127.0.0.6"},
         f"net.tls peers: {tls}")
rh.check(results["after_sni"] == EPERM, f"address behind a denied server name: {results['after_sni']}")
rh.check(results["host_header"] == -9, f"Host header rule: exit {results['host_header']}")
rh.check(results["after_bad_reload"] == EPERM, f"bad reload dropped the policy: {results['after_bad_reload']}")

acts = [e for e in events if e["type"] == "policy.action"]


def act(rule, outcome, **kw):
    hits = [a for a in acts if a["rule"] == rule and a["outcome"] == outcome
            and all(a.get(k) == v for k, v in kw.items())]
    rh.check(hits, f"no policy.action {rule}/{outcome} {kw}: {[(a['rule'], a['outcome']) for a in acts]}")
    return hits[0]


# the map taken by id: the agent's first file rule (the maps enforce it)
act("protect", "killed", kind="file", matched="bpf MAP_GET_FD_BY_ID")
# the raw socket's decision names the agent's first network rule
act("deny-cidr", "killed", kind="network", matched="raw socket")

rh.check(act("deny-cidr", "prevented", kind="network")["matched"].startswith("127.0.0.2:"), "cidr matched")
rh.check(act("deny-host", "prevented")["matched"].startswith("127.0.0.4:"), "host matched")
rh.check(act("protect", "killed", kind="file")["matched"] == f"{base}/protected/secret", "protect matched")
act("no-tool", "killed", kind="exec")
execs = [e for e in events if e["type"] == "process.exec" and e["process"]["pid"] != 0]
fl = [e for e in execs if e["fileless"]]
rh.check(len(fl) == 1 and fl[0]["process"]["exe"].startswith("/memfd:payload"),
         f"one fileless process.exec, the memfd: {[(e['process']['exe'], e['fileless']) for e in execs]}")
rh.check(act("no-fileless", "killed", kind="exec")["process"]["pid"] == fl[0]["process"]["pid"], "no-fileless acted")
loaded = [a for a in acts if a["rule"] == "no-tool" and "mapped as code" in a["detail"]]
rh.check(len(loaded) == 1 and loaded[0]["outcome"] == "killed" and loaded[0]["matched"] == f"{base}/denied_tool",
         f"one policy.action for the denied program the loader mapped: {loaded}")
maps = [e for e in events if e["type"] == "file.mechanism" and e["mechanism"] == "exec_map"]
rh.check(len(maps) == 1 and maps[0]["path"] == f"{base}/denied_tool" and maps[0]["enforcement"] == "killed"
         and maps[0]["process"]["exe"].endswith("ld-linux-x86-64.so.2"), f"file.mechanism exec_map: {maps}")
act("hold-tool", "paused")
act("hold-tool", "approved")
act("hold-tool", "denied", detail="denied by an operator")
rh.check([a for a in acts if a["rule"] == "hold-tool" and a["outcome"] == "denied" and "timed out" in a["detail"]],
         "hold timeout not reported")
act("tiny", "alerted", kind="budget")
details = [a["detail"] for a in acts if a["rule"] == "deny-host" and a["outcome"] == "killed"]
rh.check(any("Host header" in d for d in details), f"Host header decision: {details}")
rh.check(any("TLS server name" in d for d in details), f"SNI decision: {details}")
act("tiny", "prevented", kind="budget")
for a in acts:
    rh.check(a["agent"] and a["agent"]["name"] == "polagent", f"action without the agent: {a}")
rejected = rh.health(events, "policy_rejected")
# The sensor may catch the file half-written (truncated: "empty policy") and reject that
# first; it must then read the finished file too and name its error.
rh.check(any("block" in r["error"] and policy_path in r["error"] for r in rejected),
         f"bad reload not reported: {rejected}")
print(f"PASS: {len(acts)} policy actions")
