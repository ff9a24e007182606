#!/usr/bin/env python3
"""Two tracked threads whose ids are 65,536 apart must not lose each other's syscalls.

The kernel programs keep a syscall's arguments from sys_enter to sys_exit in a slot chosen by
the thread id modulo 65,536. Hosts whose pid_max is above that (systemd raises it to 4M) can
run two such threads at once: an agent waiting for a streamed LLM answer in read() while a
tool it started, whose pid is the agent's plus 65,536, opens and writes files. The second
call must not overwrite the first (the answer's bytes were lost and the call never decoded).

The test raises pid_max when it is too low (restored at the end), starts a tracked client
that streams a slow completion over plain HTTP from the mock, and once the client is blocked
reading the answer, starts a tracked child at exactly the client's pid + 65,536 (through
/proc/sys/kernel/ns_last_pid) that creates and writes a file. Both must be reported in full:
the call with the mock ledger's tokens, the file with its bytes, and no drop_pending_full,
while pending_slot_shared shows the calls did meet on the slot."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
SLOTS = 65536
CLIENT = r'''
import http.client, json, os, sys
mode = sys.argv[1]
if mode == "file":  # the tool: one file, two writes
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"tool ")
    os.write(fd, b"output")
    os.close(fd)
    sys.exit(0)
port = int(sys.argv[2])
# no timeout: a blocking socket, so the thread waits inside recvfrom (whose arguments are
# stashed), not in poll as a socket with a timeout does
c = http.client.HTTPConnection("127.0.0.1", port)
body = {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "a slow answer please"}]}
c.request("POST", "/v1/chat/completions", json.dumps(body),
          {"Authorization": "Bearer sk-proj-MOCKmockMOCKmockMOCKmock0000",
           "Content-Type": "application/json", "Host": "api.openai.com",
           "x-mock-delay-ms": "500"})
r = c.getresponse()
first = r.readline()
print("reading", flush=True)  # the next piece is 0.5 s away: this thread waits in read()
rest = r.read()
print(json.dumps({"status": r.status, "bytes": len(first) + len(rest)}), flush=True)
'''

PID_MAX = "/proc/sys/kernel/pid_max"
LAST_PID = "/proc/sys/kernel/ns_last_pid"


def read_int(path):
    with open(path) as f:
        return int(f.read())


def write_int(path, v):
    with open(path, "w") as f:
        f.write(str(v))


def spawn_at(pid, argv):
    """Starts argv as process `pid` (free, so the next fork takes it unless another process
    forks first); returns the Popen, whatever pid it got."""
    write_int(LAST_PID, pid - 1)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


mock = lh.MockServer(max_seconds=120)
work = rh.workdir("rein-slots-")
script = os.path.join(work, "slot_client.py")
with open(script, "w") as f:
    f.write(CLIENT)
pid_max_was = read_int(PID_MAX)
tool_file = os.path.join(work, "tool-output.txt")
tool = None
try:
    if pid_max_was < 4 * SLOTS:
        write_int(PID_MAX, 4 * SLOTS)
    with rh.Sensor(["--no-default-agents", "--agent-script", "slot_client.py"]) as s:
        client = subprocess.Popen([lh.PY, script, "chat", str(mock.plain_port)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = client.stdout.readline()
        rh.check(line.strip() == "reading", f"client did not start reading: {line!r} "
                 f"{client.stderr.read() if client.poll() is not None else ''}")
        # the client's main thread (tid == pid) now waits in read(): start the tool on a pid
        # with the same slot; a fork elsewhere on the host may take it first, so a few tries
        tries = []
        for k in range(1, 4):
            want = client.pid + k * SLOTS
            if want >= read_int(PID_MAX) or os.path.exists(f"/proc/{want}"):
                continue
            t = spawn_at(want, [lh.PY, script, "file", tool_file])
            out, err = t.communicate(timeout=30)
            rh.check(t.returncode == 0, f"tool failed: {err[-1000:]}")
            tries.append((want, t.pid))
            if t.pid == want:
                tool = t
                break
        rh.check(tool is not None, f"no tool process got the client's slot: (wanted, got) {tries}")
        rh.check(client.poll() is None, "the client's answer ended before the tool ran: the "
                 f"collision was not tested (tries {tries})")
        out, err = client.communicate(timeout=60)
        rh.check(client.returncode == 0, f"client failed: {err[-1000:]}")
        printed = json.loads(out.strip().splitlines()[-1])
        rh.check(printed["status"] == 200, f"client: {printed}")
        s.fence()
        events = s.stop()
finally:
    write_int(PID_MAX, pid_max_was)
    mock.stop()

ledger = [l for l in mock.entries() if l.get("client_pid") == client.pid]
rh.check(len(ledger) == 1, f"ledger entries of the client: {mock.entries()}")
calls = [e for e in events if e["type"] == "llm.call" and e["process"]["pid"] == client.pid]
rh.check(len(calls) == 1, f"llm.call events of the client: {calls}")
c = calls[0]
rh.check(c["usage"]["input_tokens"] == ledger[0]["input_tokens"]
         and c["usage"]["output_tokens"] == ledger[0]["output_tokens"] and not c["usage_missing"],
         f"the call's tokens {c['usage']} against the ledger's {ledger[0]}")
writes = [e for e in events if e["type"] == "file.mutation" and e["path"] == tool_file
          and e["op"] == "write"]
rh.check(len(writes) == 1 and writes[0]["process"]["pid"] == tool.pid and writes[0]["bytes"] == 11
         and writes[0]["writes"] == 2, f"the tool's writes: {writes}")
creates = [e for e in events if e["type"] == "file.mutation" and e["path"] == tool_file
           and e["op"] == "create"]
rh.check(len(creates) == 1 and creates[0]["process"]["pid"] == tool.pid, f"the tool's create: {creates}")
kernel = rh.health(events, "stopped")[-1]["kernel"]
rh.check(kernel["drop_pending_full"] == 0, f"pending calls dropped: {kernel}")
# and the slot was really shared while a call waited in it (else this test proved nothing)
rh.check(kernel["pending_slot_shared"] >= 1, f"no call had to wait outside its slot: {kernel}")
print(f"PASS: client {client.pid} and tool {tool.pid} share slot {client.pid % SLOTS}: the "
      f"call ({c['usage']['input_tokens']}/{c['usage']['output_tokens']} tokens) and the tool's "
      f"file both reported in full")
