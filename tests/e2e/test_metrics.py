#!/usr/bin/env python3
"""Prometheus metrics on the real kernel, scraped by a real Prometheus (Debian package):
LLM clients talk to our mock server while Prometheus scrapes `rein run --metrics-addr` every
second; once it has scraped after the last call, PromQL sums of cost and tokens must equal
the sums over the sensor's llm.call events. Also: /healthz, /metrics content type and
`promtool check metrics`, and a clear error for a bad or busy --metrics-addr."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"

rh.require_bpf()
if not os.access(PROMETHEUS, os.X_OK):
    rh.fail(f"{PROMETHEUS} missing (tools/setup installs the Debian prometheus package)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


class Prometheus:
    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="rein-prom-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\nscrape_configs:\n  - job_name: rein\n"
                    f"    static_configs:\n      - targets: ['{target}']\n")
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=self.log, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self):
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                rh.fail(f"prometheus exited {self.proc.returncode}: {self.log_tail()}")
            try:
                if http_get(self.url + "/-/ready", 1)[0] == 200:
                    return
            except OSError:
                pass
            if time.time() > deadline:
                rh.fail(f"prometheus not ready after 60s: {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self):
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def query(self, promql):
        """The instant vector of a query as [(labels, value)]."""
        status, _, body = http_get(self.url + "/api/v1/query?" +
                                   urllib.parse.urlencode({"query": promql}))
        rh.check(status == 200, f"query {promql}: HTTP {status} {body}")
        data = json.loads(body)
        rh.check(data["status"] == "success", f"query {promql}: {data}")
        return [(r["metric"], float(r["value"][1])) for r in data["data"]["result"]]

    def scalar(self, promql):
        r = self.query(promql)
        return r[0][1] if r else None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def otel_input(e):
    """OTel input tokens: cached input included, whatever the API's own convention."""
    u = e["usage"]
    if u["input_tokens"] is None:
        return None
    if e["api"] == "anthropic.messages" or e["api"].startswith("bedrock."):
        return (u["input_tokens"] + (u["cache_read_input_tokens"] or 0)
                + (u["cache_creation_input_tokens"] or 0))
    return u["input_tokens"]


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def run_client(args):
    """py_client.py under a name only this test uses, so the sensor tracks nothing else."""
    p = subprocess.run([lh.PY, client, "--cacert", mock.ca] + args, capture_output=True,
                       text=True, timeout=120)
    rh.check(p.returncode == 0 and json.loads(p.stdout.strip().splitlines()[-1])["requests"] > 0,
             f"client {args}: {p.stderr}")


metrics_port = free_port()
metrics_addr = f"127.0.0.1:{metrics_port}"
mock = lh.MockServer()
client = os.path.join(mock.dir, f"metrics_client_{uuid.uuid4().hex[:8]}.py")
shutil.copy(os.path.join(lh.MOCK, "clients", "py_client.py"), client)
prom = None
try:
    prom = Prometheus(metrics_addr)
    prom.wait_ready()
    # a bad address and a busy one are refused before anything loads, naming the flag
    for bad, why in ((f"127.0.0.1:{prom.port}", "in use"), ("localhost:9464", "IPv4"),
                     ("::1:9464", "bracket"), ("127.0.0.1:0", "port")):
        r = subprocess.run([rh.rein_bin(), "run", "--metrics-addr", bad, "--duration", "1"],
                           capture_output=True, text=True, timeout=60)
        rh.check(r.returncode != 0 and "--metrics-addr" in r.stderr and why in r.stderr,
                 f"--metrics-addr {bad}: exit {r.returncode}, stderr {r.stderr!r}")

    key = ["--api-key", "sk-proj-reinmetricsSECRETVALUE0123456789"]
    https = ["--base-url", mock.https]
    with rh.Sensor(["--no-default-agents", "--no-autodiscover",
                    "--agent-script", os.path.basename(client),
                    "--metrics-addr", metrics_addr]) as s:
        status, _, body = http_get(f"http://{metrics_addr}/healthz")
        rh.check(status == 200 and body.strip() == "ok", f"/healthz: {status} {body!r}")
        runs = [
            ["--path", "/v1/chat/completions", "--model", "gpt-4o", "--count", "3",
             "--stream", "y", "--include-usage", "y"],
            ["--path", "/v1/messages", "--model", "claude-haiku-4-5", "--count", "5",
             "--keep-alive", "y"],
            ["--path", "/v1/messages", "--model", "claude-haiku-4-5", "--stream", "y"],
            ["--path", "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
             "--model", "gemini-2.5-flash", "--stream", "y"],
            ["--path", "/v1/responses", "--model", "gpt-4.1", "--count", "2"],
            ["--path", "/v1/chat/completions", "--model", "mock-error-429"],
            ["--path", "/v1/chat/completions", "--model", "gpt-4o", "--stream", "y",
             "--include-usage", "y", "--cut", "y"],
        ]
        for args in runs:  # no pause before the first request: hooks are in place by then
            run_client(https + key + args)
        # The sensor's events are the reference here (test_llm checks them against the
        # mock's ledger): give it time to report every request, then take what it reported.
        want_calls = len(mock.entries())
        deadline = time.time() + 20
        while (len(rh.of_type(s.events(), "llm.call")) < want_calls
               and time.time() < deadline):
            time.sleep(0.1)
        s.fence()
        calls = rh.of_type(s.events(), "llm.call")
        rh.check(len(calls) == want_calls == 14, f"{len(calls)} llm.call events for {want_calls} requests")

        # Prometheus has scraped after the last call once its count equals the events'
        deadline = time.time() + 60
        seen = None
        while True:
            seen = prom.scalar('sum(rein_llm_calls_total{job="rein"})')
            if seen is not None and int(seen) == len(calls):
                break
            if time.time() > deadline:
                rh.fail(f"prometheus saw {seen} calls, events {len(calls)}; "
                        f"targets {http_get(prom.url + '/api/v1/targets')[2][:2000]}")
            if seen is not None and int(seen) > len(calls):  # a late call: take it too
                calls = rh.of_type(s.events(), "llm.call")
            time.sleep(0.2)

        # the exposition itself: content type, and Prometheus's own linter
        status, ctype, text = http_get(f"http://{metrics_addr}/metrics")
        rh.check(status == 200 and ctype.startswith("text/plain; version=0.0.4"),
                 f"/metrics: {status} {ctype}")
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=60)
        rh.check(lint.returncode == 0, f"promtool check metrics: {lint.stdout} {lint.stderr}")
        rh.check("SECRETVALUE" not in text, "the API key reached /metrics")

        # PromQL sums equal the sums over the llm.call events, queried while rein still
        # runs (a target that stops answering gets staleness markers)
        want_cost = sum(e["cost_usd"] for e in calls if e["cost_usd"] is not None)
        got_cost = prom.scalar('sum(rein_llm_cost_usd_total{job="rein"})')
        rh.check(want_cost > 0 and got_cost is not None and close(got_cost, want_cost),
                 f"cost: prometheus {got_cost!r} events {want_cost!r}")

        want_otel = {"input": sum(otel_input(e) or 0 for e in calls),
                     "output": sum(e["usage"]["output_tokens"] or 0 for e in calls)}
        got_otel = {m["gen_ai_token_type"]: v for m, v in prom.query(
            'sum by (gen_ai_token_type) (gen_ai_client_token_usage_sum{job="rein"})')}
        rh.check(got_otel == {k: float(v) for k, v in want_otel.items()},
                 f"OTel token sums: prometheus {got_otel} events {want_otel}")
        want_counts = {"input": len([e for e in calls if e["usage"]["input_tokens"] is not None]),
                       "output": len([e for e in calls if e["usage"]["output_tokens"] is not None])}
        got_counts = {m["gen_ai_token_type"]: v for m, v in prom.query(
            'sum by (gen_ai_token_type) (gen_ai_client_token_usage_count{job="rein"})')}
        rh.check(got_counts == {k: float(v) for k, v in want_counts.items()},
                 f"OTel token counts: prometheus {got_counts} events {want_counts}")

        raw_fields = {"input": "input_tokens", "output": "output_tokens",
                      "cache_read": "cache_read_input_tokens",
                      "cache_creation": "cache_creation_input_tokens", "reasoning": "reasoning_tokens"}
        want_raw = {k: float(sum(e["usage"][f] or 0 for e in calls)) for k, f in raw_fields.items()}
        want_raw = {k: v for k, v in want_raw.items() if v}
        got_raw = {m["gen_ai_token_type"]: v for m, v in prom.query(
            'sum by (gen_ai_token_type) (rein_llm_tokens_total{job="rein"})') if v}
        rh.check(got_raw == want_raw, f"raw token sums: prometheus {got_raw} events {want_raw}")
        rh.check(want_raw.get("cache_read", 0) > 0, f"the workload had no cached tokens: {want_raw}")

        by_status = {}
        for e in calls:
            st = str(e["status"]) if e["status"] else "none"
            by_status[st] = by_status.get(st, 0) + 1
        got_status = {m["status"]: int(v) for m, v in prom.query(
            'sum by (status) (rein_llm_calls_total{job="rein"})')}
        rh.check(got_status == by_status, f"calls by status: prometheus {got_status} events {by_status}")

        with_latency = len([e for e in calls if e["latency_ms"] is not None])
        got = prom.scalar('sum(gen_ai_client_operation_duration_seconds_count{job="rein"})')
        rh.check(got == with_latency, f"duration observations {got} vs {with_latency} calls with latency")
        got = prom.scalar('sum(rein_events_total{job="rein",type="llm.call"})')
        rh.check(got == len(calls), f"rein_events_total llm.call {got} vs {len(calls)}")
        for q in ('rein_sensor_up{job="rein"}', 'rein_build_info{job="rein"}', 'up{job="rein"}'):
            rh.check(prom.scalar(q) == 1, f"{q} = {prom.scalar(q)}")
        rh.check(prom.scalar('sum(rein_drops_total{job="rein",reason="drop_ringbuf_full"})') == 0,
                 "ring drops reported")
        late = len(rh.of_type(s.events(), "llm.call")) - len(calls)
        rh.check(late == 0, f"{late} llm.call events came after the sums were compared")
        s.stop()
except BaseException:  # rh.fail exits: show what Prometheus said before its dir goes
    if prom:
        print(f"prometheus log:\n{prom.log_tail()}", file=sys.stderr)
    raise
finally:
    mock.stop()
    if prom:
        prom.stop()

print(f"PASS: {len(calls)} llm.call events; PromQL cost {got_cost:.9g} USD and token sums "
      f"{got_otel} equal the events'")
