#!/usr/bin/env python3
"""LLM traffic on the real kernel: real clients (Python urllib and http.client over the
system OpenSSL, node's https with its own OpenSSL, curl, gnutls-cli, plain HTTP to an
Ollama-style endpoint) talk to our mock server; every request's tokens and cost in Rein's
llm.call events must equal the server's ledger. The sensor runs in its default mode (TLS
hooks only in tracked processes): the clients are selected with --agent-script py_client.py
and --agent-exe curl/gnutls-cli/node. Includes a client started before the sensor (adopted
at start-up, its libssl found in /proc/PID/maps), streams, gzip, a 1 MiB response, a cut
stream, a 429, and 50 requests on one keep-alive connection. Token numbers come from the ledger, never from this file."""
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
tag = uuid.uuid4().hex[:8]
SECRET = f"sk-proj-rein{tag}SECRETVALUE0123456789"
mock = lh.MockServer()
ollama_name = f"ollama_agent_{tag}"
ollama_exe = os.path.join(mock.dir, ollama_name)
shutil.copy(lh.PY, ollama_exe)
key = ["--api-key", SECRET]
https = ["--base-url", mock.https]

try:
    # started before the sensor: ssl already loaded, first request after the sensor is up;
    # the sensor must adopt it (--agent-script matches running processes too)
    early = mock.client(https + key + ["--path", "/v1/chat/completions", "--model", "gpt-4o",
                                       "--count", "2", "--wait-before", "6"], wait=False)
    deadline = time.time() + 30   # it has loaded libssl: the sensor must find it mapped
    while time.time() < deadline and "libssl" not in open(f"/proc/{early.pid}/maps").read():
        time.sleep(0.02)
    selectors = ["--no-default-agents", "--agent-exe", ollama_name,
                 "--agent-script", "py_client.py",
                 # gnutls_request.sh is bash; the process that does the TLS is gnutls-cli
                 "--agent-exe", "curl", "--agent-exe", "gnutls-cli", "--agent-exe", "node"]
    with rh.Sensor(selectors) as s:
        runs = []
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions", "--model", "gpt-4o",
                                               "--count", "3", "--stream", "y", "--include-usage", "y",
                                               "--gzip", "y"]))
        runs.append(mock.client(https + key + ["--path", "/v1/messages", "--model", "claude-haiku-4-5",
                                               "--count", "50", "--keep-alive", "y"]))
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions", "--model", "gpt-4o-mini",
                                               "--size", str(1 << 20)]))
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions", "--model", "gpt-4o",
                                               "--stream", "y", "--include-usage", "y", "--cut", "y"]))
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions",
                                               "--model", "mock-error-429"]))
        runs.append(mock.client(https + key + ["--path", "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                                               "--model", "gemini-2.5-flash", "--stream", "y"]))
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions",
                                               "--model", f"unknown-model-{tag}"]))
        runs.append(mock.client(https + key + ["--path", "/v1/responses", "--model", "gpt-4.1",
                                               "--stream", "y", "--count", "2"]))
        # node's https module, OpenSSL linked into node
        node = subprocess.run(["node", os.path.join(lh.MOCK, "clients", "node_client.js")] + https +
                              ["--cacert", mock.ca, "--path", "/v1/messages", "--model", "claude-haiku-4-5",
                               "--stream", "y", "--count", "5", "--keep-alive", "y"] + key,
                              capture_output=True, text=True, timeout=120)
        rh.check(node.returncode == 0, f"node client: {node.stderr}")
        # curl: a streamed chat and a gzip'd Gemini SSE stream on one connection
        curl = subprocess.run(
            ["curl", "-sS", "--cacert", mock.ca, f"{mock.https}/v1/chat/completions",
             "-H", "content-type: application/json", "-H", f"authorization: Bearer {SECRET}",
             "-d", '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},'
                   '"messages":[{"role":"user","content":"hi"}]}', "-N", "-o", "/dev/null",
             "--next", "--cacert", mock.ca, "--compressed", "-H", "x-mock-gzip: 1",
             "-H", f"x-goog-api-key: {SECRET}",
             f"{mock.https}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
             "-d", '{"contents":[]}', "-o", "/dev/null"],
            capture_output=True, text=True, timeout=60)
        rh.check(curl.returncode == 0, f"curl: {curl.stderr}")
        # GnuTLS
        g = subprocess.run([os.path.join(lh.MOCK, "clients", "gnutls_request.sh")] + https +
                           ["--cacert", mock.ca, "--path", "/v1/chat/completions"],
                           capture_output=True, text=True, timeout=60)
        rh.check(g.returncode == 0, f"gnutls client: {g.stderr} {g.stdout}")
        # plain HTTP, Ollama native NDJSON stream, from a selected process
        runs.append(mock.client(["--base-url", mock.http, "--path", "/api/chat", "--model", "llama3.2",
                                 "--stream", "y"], exe=ollama_exe))
        out, err = early.communicate(timeout=60)
        runs.append((early.pid, out, err))
        for pid, out, err in runs:
            rh.check(json.loads(out.strip().splitlines()[-1])["requests"] > 0, f"client {pid}: {err}")
        s.fence()
        events = s.stop()
finally:
    mock.stop()

raw = open(s.out).read()
rh.check(SECRET not in raw and "SECRETVALUE" not in raw, "the API key leaked into the output")
calls = [e for e in events if e["type"] == "llm.call"]
ledger = mock.entries()
prices = lh.load_prices()
by_pid = {}
for e in calls:
    by_pid.setdefault(e["process"]["pid"], []).append(e)
led_pid = {}
for l in ledger:
    led_pid.setdefault(l["client_pid"], []).append(l)
rh.check(len(calls) == len(ledger), f"{len(calls)} llm.call events for {len(ledger)} ledger lines; "
         f"pids events {sorted((k, len(v)) for k, v in by_pid.items())} "
         f"ledger {sorted((k, len(v)) for k, v in led_pid.items())}")

checked = priced = unknown = 0
for pid, entries in led_pid.items():
    got = by_pid.get(pid, [])
    rh.check(len(got) == len(entries), f"pid {pid}: {len(got)} calls for {len(entries)} requests")
    entries.sort(key=lambda l: l["seq"])
    got.sort(key=lambda e: e["time"])
    for l, e in zip(entries, got):
        where = f"pid {pid} seq {l['seq']} {l['path']} {l['model']}"
        rh.check(e["status"] == l["status"], f"{where}: status {e['status']} vs {l['status']}")
        rh.check(e["agent"] is not None, f"{where}: no agent")
        rh.check(e["stream"] == l["stream"], f"{where}: stream {e['stream']} vs {l['stream']}")
        if l["status"] >= 400:
            rh.check(e["error"] and e["error"]["type"], f"{where}: error not reported {e['error']}")
            rh.check(e["error"]["retry_after_s"] == 7, f"{where}: retry-after {e['error']}")
            rh.check(e["cost_usd"] == 0, f"{where}: a rejected request costs nothing: {e['cost_usd']}")
            checked += 1
            continue
        if not l["usage_sent"]:
            rh.check(e["usage_missing"] and e["cost_usd"] is None,
                     f"{where}: usage not sent but reported {e['usage']} {e['cost_usd']}")
            checked += 1
            continue
        u = e["usage"]
        rh.check(not e["usage_missing"], f"{where}: usage missing {e['usage_note']}")
        for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
                  "reasoning_tokens"):
            rh.check(u[k] == l[k], f"{where}: {k} {u[k]} vs ledger {l[k]}")
        want_out = l["output_tokens"] + (0 if l.get("output_includes_reasoning", True)
                                         else (l["reasoning_tokens"] or 0))
        rh.check(u["output_tokens"] == want_out, f"{where}: output {u['output_tokens']} vs {want_out}")
        price = prices.get(l["model"])
        if l["provider"] == "ollama":  # local inference: known to cost nothing
            rh.check(e["cost_usd"] == 0, f"{where}: local model priced {e['cost_usd']}")
        elif price is None:
            rh.check(e["cost_usd"] is None and "unknown model" in e["cost_note"],
                     f"{where}: unknown model priced {e['cost_usd']} {e['cost_note']}")
            unknown += 1
        else:
            want = lh.expected_cost(l, price)
            rh.check(e["cost_usd"] is not None and abs(e["cost_usd"] - want) < 1e-9,
                     f"{where}: cost {e['cost_usd']} vs {want} ({e['cost_note']})")
            priced += 1
        if l["listener"] == "tls" and e["source"] == "openssl":
            rh.check(e["api_key_fingerprint"], f"{where}: no key fingerprint")
        checked += 1

sources = {e["source"] for e in calls}
rh.check({"openssl", "gnutls", "socket"} <= sources, f"sources seen: {sources}")
# every client but gnutls-cli (which sends its own fake key) sent SECRET
fps = {e["api_key_fingerprint"] for e in calls
       if e["api_key_fingerprint"] and e["process"]["comm"] != "gnutls-cli"}
rh.check(len([f for f in fps if f.startswith("sk-proj:")]) == 1, f"one fingerprint for the key: {fps}")
adopted = [e for e in events if e["type"] == "process.exec" and e["process"]["pid"] == early.pid]
rh.check(any(e.get("existing") is True and e.get("agent") for e in adopted),
         f"early client {early.pid} not adopted as an agent: {adopted}")
rh.check(early.pid in led_pid and len(by_pid.get(early.pid, [])) == len(led_pid[early.pid]),
         f"early client {early.pid}: calls {len(by_pid.get(early.pid, []))} "
         f"ledger {len(led_pid.get(early.pid, []))}")
k = rh.health(events, "stopped")[-1]["kernel"]
rh.check(k["drop_ringbuf_full"] == 0, f"ring drops {k}")
rh.check(unknown == 1, f"one unknown-model call expected, saw {unknown}")
print(f"PASS: {checked} calls matched the ledger ({priced} priced), sources {sorted(sources)}")
