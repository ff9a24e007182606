"""Shared helpers for Rein's end-to-end tests: start the real sensor on the real kernel,
drive real processes, read back the JSON lines.

Exit code 77 means "skipped" to ctest. A test skips only when BPF cannot be used here
(not root, no BTF) and REIN_REQUIRE_BPF is not set; with REIN_REQUIRE_BPF=1 that is a failure.
"""
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
_workdirs = []
_keep = [os.environ.get("REIN_KEEP_TEST_DIRS") == "1"]


def workdir(prefix, parent=None):
    """A temporary directory removed when the test ends, or kept (and named) if it failed."""
    d = tempfile.mkdtemp(prefix=prefix, dir=parent)
    _workdirs.append(d)
    return d


@atexit.register
def _remove_workdirs():
    for d in _workdirs:
        if _keep[0]:
            print(f"kept for inspection: {d}", file=sys.stderr)
        else:
            shutil.rmtree(d, ignore_errors=True)


def rein_bin():
    path = os.environ.get("REIN_BIN")
    if not path or not os.path.exists(path):
        fail(f"REIN_BIN not set or missing: {path!r}")
    return path


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    _keep[0] = True  # the sensor's output and stderr stay for whoever reads the failure
    sys.exit(1)


def require_bpf():
    """Skip (or fail under REIN_REQUIRE_BPF=1) when this machine cannot load BPF."""
    why = None
    if os.geteuid() != 0:
        why = "not root"
    elif not os.path.exists("/sys/kernel/btf/vmlinux"):
        why = "no kernel BTF"
    if why:
        if os.environ.get("REIN_REQUIRE_BPF") == "1":
            fail(f"BPF required (REIN_REQUIRE_BPF=1) but unavailable: {why}")
        print(f"SKIP: {why}", file=sys.stderr)
        sys.exit(SKIP)


class Sensor:
    """`rein run` with the given arguments, output to a temp file, stopped by SIGINT."""

    def __init__(self, args, health_interval=1.0, ring_mib=None):
        self.dir = workdir("rein-e2e-")
        self.out = os.path.join(self.dir, "events.jsonl")
        self.err_path = os.path.join(self.dir, "stderr.txt")
        cmd = [rein_bin(), "run", "--output", self.out,
               "--health-interval", str(health_interval)] + list(args)
        if ring_mib:
            cmd += ["--ring-mib", str(ring_mib)]
        if "--state-dir" not in args:
            # a fresh state per sensor: no TLS plan cached by an earlier run, as on a CI machine
            cmd += ["--state-dir", os.path.join(self.dir, "state")]
        self.cmd = cmd
        self.err = open(self.err_path, "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err)
        self._wait_ready()

    def _wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail(f"sensor exited early ({self.proc.returncode}): {self.stderr()}")
            if "rein: ready" in self.stderr():
                return
            time.sleep(0.05)
        self.proc.kill()
        fail(f"sensor not ready after {timeout}s: {self.stderr()}")

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def stop(self, timeout=30, parse=True):
        """SIGINT, then the sensor must exit 0 within `timeout`; returns its events, parsed,
        unless parse=False (an output of millions of lines takes minutes to parse here)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                fail("sensor did not stop on SIGINT")
        if self.proc.returncode != 0:
            fail(f"sensor exited {self.proc.returncode}: {self.stderr()}")
        return self.events() if parse else None

    def events(self):
        evs = []
        with open(self.out) as f:
            lines = f.read().split("\n")
        # the last piece has no newline yet while the sensor is still writing it (or is
        # empty): only whole lines count
        lines.pop()
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            try:
                evs.append(json.loads(line))
            except json.JSONDecodeError as e:
                fail(f"output line {n} is not JSON ({e}): {line[:200]}")
        return evs

    def pid(self):
        return self.proc.pid

    def wait_for(self, pred, what, timeout=60):
        """The first event (in output order) for which pred(event) holds; fails after timeout.
        Readiness is proved by what the sensor says, never by a fixed sleep."""
        deadline = time.time() + timeout
        while True:
            for e in self.events():
                if pred(e):
                    return e
            if time.time() > deadline:
                fail(f"timed out after {timeout}s waiting for {what}")
            if self.proc.poll() is not None:
                fail(f"sensor exited ({self.proc.returncode}) while waiting for {what}: {self.stderr()}")
            time.sleep(0.05)

    def fence(self, timeout=30):
        """Waits until two more periodic sensor.health events are out: the second was
        written after a whole drain that began after this call, so everything the kernel
        reported before the call has been through the pipeline."""
        def running():
            return [e for e in self.events()
                    if e.get("type") == "sensor.health" and e.get("state") == "running"]
        want = len(running()) + 2
        deadline = time.time() + timeout
        while len(running()) < want:
            if time.time() > deadline:
                fail(f"no sensor.health for {timeout}s (fence)")
            if self.proc.poll() is not None:
                fail(f"sensor exited ({self.proc.returncode}) at a fence: {self.stderr()}")
            time.sleep(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def of_type(events, t):
    return [e for e in events if e.get("type") == t]


def health(events, state=None):
    hs = of_type(events, "sensor.health")
    return [h for h in hs if state is None or h.get("state") == state]


def proc_state(pid):
    """The state letter in /proc/<pid>/stat (R, S, T, Z...); None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def kill_all(procs):
    """A test's cleanup: kills and reaps each subprocess.Popen of `procs` still running."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


class Listener:
    """A TCP listener on loopback that accepts and closes, in a thread, until stopped."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
                c.close()
            except OSError:
                pass

    def close(self):
        self._stop = True
        self.t.join(2)
        self.sock.close()


def closed_port(host="127.0.0.1"):
    """A loopback port with nothing listening (bound then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class DnsResponder:
    """A tiny authoritative DNS responder on UDP port 53 of a loopback address. Answers A
    queries for names in `records` and NXDOMAIN otherwise. Stops by itself after max_seconds."""

    def __init__(self, host, records, max_seconds=120):
        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 53))
        self.sock.settimeout(0.2)
        self.host = host
        self.deadline = time.time() + max_seconds
        self._stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self._stop and time.time() < self.deadline:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                continue
            resp = self.answer(data)
            if resp:
                self.sock.sendto(resp, peer)

    def answer(self, q):
        if len(q) < 12:
            return None
        qid = q[0:2]
        i, labels = 12, []
        while i < len(q) and q[i]:
            n = q[i]
            labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        qend = i + 5
        name = ".".join(labels)
        question = q[12:qend]
        qtype = int.from_bytes(q[i + 1:i + 3], "big")
        addr = self.records.get(name)
        if addr and qtype == 1:
            flags, ancount = b"\x81\x80", 1
            ans = b"\xc0\x0c" + b"\x00\x01\x00\x01" + (300).to_bytes(4, "big") + b"\x00\x04" + \
                socket.inet_aton(addr)
        else:
            flags, ancount, ans = (b"\x81\x83", 0, b"") if not addr else (b"\x81\x80", 0, b"")
        return qid + flags + b"\x00\x01" + ancount.to_bytes(2, "big") + b"\x00\x00\x00\x00" + \
            question + ans

    def close(self):
        self._stop = True
        self.t.join(2)
        self.sock.close()


def dns_query_packet(name, qid=0x1234, qtype=1):
    q = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + qtype.to_bytes(2, "big") + b"\x00\x01"


@contextlib.contextmanager
def bpf_stats():
    """kernel.bpf_stats_enabled on for the block: the kernel counts each BPF program's runs and
    their time (a clock read per run, so not for timed figures). Restored afterwards."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        was = f.read().strip()
    with open(path, "w") as f:
        f.write("1")
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(was)


def bpf_prog_runs(names):
    """{program name: [runs, run ns]} summed over the loaded programs of those names."""
    out = {n: [0, 0] for n in names}
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                      text=True, check=True).stdout)
    for p in progs:
        if p.get("name") in out:
            out[p["name"]][0] += p.get("run_cnt", 0)
            out[p["name"]][1] += p.get("run_time_ns", 0)
    return out


def check(cond, msg):
    if not cond:
        fail(msg)
