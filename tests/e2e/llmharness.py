"""Mock LLM server for e2e tests: our own HTTPS (and plain HTTP) server on loopback that
writes a ledger of the token numbers it put on the wire."""
import json
import os
import subprocess
import time

import reinharness as rh

ROOT = os.environ.get("REIN_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
MOCK = os.path.join(ROOT, "tools", "mock-llm")
PY = "/usr/bin/python3"


class MockServer:
    # Each TLS connection waits one 100 ms round trip before the server answers its
    # ClientHello, as a distant API would. On bare loopback a client that execs, loads its
    # TLS library and sends at once can beat its hooks (exec to hooks: 9-19 ms in
    # bench_llm_overhead, longer on a busy VM), and the e2e tests lost first requests that
    # way; that window is docs/architecture.md's, and test_discovery asks for 0 to check it.
    def __init__(self, max_seconds=300, handshake_delay_ms=100):
        self.dir = rh.workdir("rein-mock-")
        out = subprocess.run([os.path.join(MOCK, "make-cert.sh"), os.path.join(self.dir, "certs")],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        env = dict(line.split("=", 1) for line in out.split() if "=" in line)
        self.ca, cert, key = env["CA_FILE"], env["CERT_FILE"], env["KEY_FILE"]
        self.ledger = os.path.join(self.dir, "ledger.jsonl")
        portfile = os.path.join(self.dir, "port.json")
        self.proc = subprocess.Popen(
            [PY, os.path.join(MOCK, "server.py"), "--cert", cert, "--key", key, "--also-plain",
             "--ledger", self.ledger, "--port-file", portfile, "--max-seconds", str(max_seconds),
             "--handshake-delay-ms", str(handshake_delay_ms)],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "server.err"), "w"))
        deadline = time.time() + 30
        while time.time() < deadline and not (os.path.exists(portfile) and os.path.getsize(portfile)):
            time.sleep(0.05)
        info = json.load(open(portfile))
        self.port, self.plain_port = info["port"], info["plain_port"]
        self.https = f"https://127.0.0.1:{self.port}"
        self.http = f"http://127.0.0.1:{self.plain_port}"

    def client(self, args, exe=PY, wait=True, timeout=120):
        cmd = [exe, os.path.join(MOCK, "clients", "py_client.py"), "--cacert", self.ca] + args
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not wait:
            return p
        out, err = p.communicate(timeout=timeout)
        return p.pid, out, err

    def entries(self):
        if not os.path.exists(self.ledger):
            return []
        with open(self.ledger) as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def load_prices():
    with open(os.path.join(ROOT, "data", "prices.json")) as f:
        return {m["model"]: m for m in json.load(f)["models"]}


def expected_cost(entry, price):
    """Dollars for a ledger entry, from the provider's cache arithmetic (llm-api-facts 1.3),
    written independently of the sensor's code."""
    per = 1e-6
    i = entry.get("input_tokens") or 0
    o = entry.get("output_tokens") or 0
    cr = entry.get("cache_read_input_tokens") or 0
    cw = entry.get("cache_creation_input_tokens") or 0
    th = entry.get("reasoning_tokens") or 0
    if entry["provider"] == "anthropic":  # cache outside input
        return (i * price["input"] + cw * price.get("cache_write_5m", price["input"])
                + cr * price.get("cache_read", price["input"]) + o * price["output"]) * per
    if not entry.get("output_includes_reasoning", True):  # Gemini: thoughts billed as output
        o += th
    return ((i - cr) * price["input"] + cr * price.get("cache_read", price["input"])
            + o * price["output"]) * per
