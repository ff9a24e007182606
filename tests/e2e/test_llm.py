#!/usr/bin/env python3
"""LLM traffic on the real kernel: real clients (Python urllib and http.client over the
system OpenSSL, node's https with its own OpenSSL, curl, gnutls-cli, plain HTTP to an
Ollama-style endpoint) talk to our mock server; every request's tokens and cost in Rein's
llm.call events must equal the server's ledger. The sensor runs in its default mode (TLS
hooks only in tracked processes): the clients are selected with --agent-script py_client.py
and --agent-exe curl/gnutls-cli/node. Includes a client started before the sensor (adopted
at start-up, its libssl found in /proc/PID/maps), streams, gzip, a 1 MiB response, a cut
stream, a 429, and 50 requests on one keep-alive connection. Token numbers come from the ledger, never from this file."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402
from workloads.llm import LlmWorkload  # noqa: E402

rh.require_bpf()
w = LlmWorkload()  # the clients live in workloads/llm.py (test_replay_llm runs them too)
tag, SECRET, mock = w.tag, w.secret, w.mock

try:
    w.start_early()
    with rh.Sensor(w.selectors) as s:
        w.run(s)
        events = s.stop()
finally:
    w.close()
early = w.early

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
# detections run by default: ordinary LLM clients must not trigger any (false positives)
det = [e for e in events if e["type"].startswith("detect.")]
rh.check(not det, f"detections on the LLM workload: {det[:3]}")
print(f"PASS: {checked} calls matched the ledger ({priced} priced), sources {sorted(sources)}")
