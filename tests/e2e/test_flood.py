#!/usr/bin/env python3
"""A hostile agent cannot blind the sensor with data. While one process of a tracked agent
pushes hundreds of MiB of plain HTTP through its sockets (captured payload), another of its
processes writes into a protected directory: it must still be killed and reported, the
payload over the agent's budget is dropped and counted (drop_data_budget), and the control
ring loses nothing. Then the agent sends 64 pipelined gzip bombs (16 MiB of zeros each, ~1 MiB
of gzip in all) that nobody answers: the sensor's decoding memory stays within --decode-mib
(decode_peak_bytes), the cut bodies are counted, and its peak RSS stays far below the
gigabyte the bombs would decode to."""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
import zlib

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402

rh.require_bpf()
rh.rein_bin()
tag = uuid.uuid4().hex[:8]
base = rh.workdir("rein-flood-")
name = f"flood_{tag}"
agent = os.path.join(base, name)
shutil.copy("/usr/bin/python3", agent)
os.mkdir(os.path.join(base, "protected"))
policy = os.path.join(base, "policy.yaml")
with open(policy, "w") as f:
    f.write(f"""apiVersion: rein/v1
agents:
  - name: flooder
    exe: [{name}]
autodiscover: false
rules:
  - name: protect
    action: deny
    file:
      paths: ["{base}/protected/**"]
""")
DECODE_MIB = 32


class Sink:
    """Reads and discards everything on every connection; never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.bytes = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        deadline = time.time() + 300
        while not self.stop and time.time() < deadline:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.drain, args=(c,), daemon=True).start()

    def drain(self, c):
        c.settimeout(30)
        try:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                self.bytes += len(b)
        except OSError:
            pass
        c.close()

    def close(self):
        self.stop = True
        self.t.join(2)
        self.sock.close()


FLOOD = r"""
import socket, sys
total = int(sys.argv[2]) << 20
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"POST /upload HTTP/1.1\r\nHost: sink\r\nContent-Length: %d\r\n\r\n" % total)
chunk = b"x" * (256 << 10)
sent = 0
while sent < total:
    s.sendall(chunk); sent += len(chunk)
print("sent", sent)
"""
WRITER = r"""
import sys
open(sys.argv[1], "w").write("owned")
sys.stdin.read()   # alive until the test gives up waiting for the kill
print("survived")
"""
BOMBS = r"""
import socket, sys, time, zlib
co = zlib.compressobj(9, zlib.DEFLATED, 31)
body = co.compress(b"\0" * (16 << 20)) + co.flush()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(64):
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: sink\r\nContent-Type: application/json\r\n"
              b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
print("bombs", len(body) * 64)
sys.stdout.flush()
time.sleep(float(sys.argv[2]))
"""


def wait_for(sensor, pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in sensor.events():
            if pred(e):
                return e
        time.sleep(0.1)
    rh.fail(f"timed out waiting for {what}")


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


sink = Sink()
try:
    with rh.Sensor(["--no-default-agents", "--policy", policy, "--agent-data-mibps", "4",
                    "--agent-data-burst-mib", "8", "--decode-mib", str(DECODE_MIB)],
                   health_interval=0.5) as s:
        flood = subprocess.Popen([agent, "-c", FLOOD, str(sink.port), "768"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the flood is under way once the sink has seen tens of MiB
        deadline = time.time() + 60
        while sink.bytes < (32 << 20) and time.time() < deadline and flood.poll() is None:
            time.sleep(0.05)
        rh.check(sink.bytes >= (32 << 20) and flood.poll() is None,
                 f"the flood never got under way ({sink.bytes} bytes, exit {flood.poll()})")
        target = os.path.join(base, "protected", "authorized_keys")
        w = subprocess.Popen([agent, "-c", WRITER, target], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        try:
            w.wait(timeout=60)  # the kill may wait for the sensor to get through the flood
        except subprocess.TimeoutExpired:
            pass  # not killed: its output says so
        w_out = w.communicate(input="", timeout=60)[0]
        flood_out, flood_err = flood.communicate(timeout=120)
        rh.check(flood.returncode == 0 and flood_out.startswith("sent"), f"flood: {flood_err[-500:]}")
        rh.check(w.returncode == -9 and "survived" not in w_out,
                 f"the protected write during the flood was not killed: rc {w.returncode}")
        wait_for(s, lambda e: e.get("type") == "policy.action" and e.get("rule") == "protect",
                 "the policy.action of the protected write")

        bombs = subprocess.Popen([agent, "-c", BOMBS, str(sink.port), "6"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        refused = wait_for(s, lambda e: e.get("type") == "sensor.health" and
                           (e.get("pipeline") or {}).get("decode_budget_refusals", 0) > 0,
                           "decode budget refusals in sensor.health")
        bombs.communicate(timeout=60)
        s.fence()  # every bomb decoded or refused: the high-water mark covers them all
        hwm_mib = vm_hwm_kib(s.pid()) / 1024
        events = s.stop()
finally:
    sink.close()

h = rh.health(events)[-1]
k, p = h["kernel"], h["pipeline"]
print(f"flood: sink got {sink.bytes >> 20} MiB; drop_data_budget {k['drop_data_budget']}, "
      f"drop_ringbuf_full {k['drop_ringbuf_full']}, drop_control_ring {k['drop_control_ring']}; "
      f"decode peak {p['decode_peak_bytes'] >> 20} MiB of {p['decode_budget_bytes'] >> 20}, "
      f"refusals {p['decode_budget_refusals']}; sensor VmHWM {hwm_mib:.0f} MiB")
rh.check(k["drop_data_budget"] > 0, f"the flood was not held to the agent's data budget: {k}")
rh.check(k["drop_control_ring"] == 0, f"control records lost under the flood: {k}")
rh.check(p["decode_budget_bytes"] == DECODE_MIB << 20, f"decode budget not applied: {p}")
rh.check(0 < p["decode_peak_bytes"] <= DECODE_MIB << 20, f"decode memory over budget: {p}")
rh.check(refused["pipeline"]["decode_budget_refusals"] > 0, "no body was cut by the budget")
# 64 x 16 MiB would be a gigabyte; the sensor idles near 50 MiB
rh.check(hwm_mib < 50 + DECODE_MIB + 80, f"sensor peak RSS {hwm_mib:.0f} MiB")
acts = [e for e in events if e.get("type") == "policy.action" and e.get("rule") == "protect"]
rh.check(acts and acts[0].get("outcome") == "killed", f"policy.action: {acts[:1]}")
print("PASS")
