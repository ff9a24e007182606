#!/usr/bin/env python3
"""Usage ledger on the real kernel: `rein run --ledger FILE` keeps every llm.call across a
restart. Two sensor runs on one ledger, each with real clients (py_client.py over the system
OpenSSL) calling the mock LLM; then `rein usage --by model|agent|key --format json` must
equal the sums over the llm.call events of both runs (tokens exactly, dollars within 1e-9),
the file is 0600, and bad input to `rein usage` exits 1 with a message."""
import json
import os
import shutil
import stat
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
mock = lh.MockServer()
work = rh.workdir("rein-ledger-")
ledger = os.path.join(work, "usage.db")
state = os.path.join(work, "state")  # one fingerprint key for both runs, as on a real host
# A client script of our own name: other tests' py_client.py runs are not ours to count.
client = os.path.join(work, f"ledger_client_{uuid.uuid4().hex[:8]}.py")
shutil.copy(os.path.join(lh.MOCK, "clients", "py_client.py"), client)
args = ["--no-default-agents", "--agent-script", os.path.basename(client), "--ledger", ledger,
        "--state-dir", state]
key = ["--api-key", "sk-proj-reinledgerTESTKEY0123456789abcdef"]
https = ["--base-url", mock.https]


def run_clients(clients):
    for c in clients:
        p = subprocess.run([lh.PY, client, "--cacert", mock.ca] + https + key + c,
                           capture_output=True, text=True, timeout=120)
        rh.check(p.returncode == 0 and json.loads(p.stdout.strip().splitlines()[-1])["requests"] > 0,
                 f"client {c}: {p.returncode} {p.stderr}")


def one_run(clients):
    with rh.Sensor(args) as s:
        run_clients(clients)
        s.fence()
        events = s.stop()
    calls = [e for e in events if e["type"] == "llm.call"]
    stopped = rh.health(events, "stopped")[-1]["pipeline"]
    rh.check(stopped.get("ledger_write_errors") == 0, f"ledger write errors: {stopped}")
    return calls


try:
    first = one_run([
        ["--path", "/v1/chat/completions", "--model", "gpt-4o", "--count", "3"],
        ["--path", "/v1/messages", "--model", "claude-haiku-4-5", "--count", "2", "--stream", "y"],
        ["--path", "/v1/chat/completions", "--model", "mock-error-429"],
    ])
    mode = stat.S_IMODE(os.stat(ledger).st_mode)
    rh.check(mode == 0o600, f"ledger mode {oct(mode)}, want 0600")
    second = one_run([  # the restarted sensor appends to the same file
        ["--path", "/v1/chat/completions", "--model", "gpt-4o", "--count", "2"],
        ["--path", "/v1/chat/completions", "--model", "gpt-4o-mini", "--count", "2"],
    ])
finally:
    mock.stop()

# one event per request the mock answered (a call whose response the sensor missed is
# still an event, so count requests on the server's side)
served = len(mock.entries())
rh.check(len(first) >= 6 and len(second) >= 4 and len(first) + len(second) >= served == 10,
         f"llm.call events: {len(first)} in the first run, {len(second)} in the second, "
         f"{served} requests served")
calls = first + second


def usage(*extra, ok=True):
    p = subprocess.run([rh.rein_bin(), "usage", "--ledger", ledger] + list(extra),
                       capture_output=True, text=True, timeout=60)
    if ok:
        rh.check(p.returncode == 0, f"rein usage {extra}: {p.returncode} {p.stderr}")
    return p


def model_of(e):
    return e.get("response_model") or e.get("request_model")


def expected(group_of):
    want = {}
    for e in calls:
        g = want.setdefault(group_of(e), {"calls": 0, "input_tokens": 0, "output_tokens": 0,
                                          "cost_usd": 0.0, "errors": 0})
        g["calls"] += 1
        g["input_tokens"] += e["usage"]["input_tokens"] or 0
        g["output_tokens"] += e["usage"]["output_tokens"] or 0
        g["cost_usd"] += e["cost_usd"] or 0.0
        g["errors"] += 1 if (e["error"] or (e["status"] or 0) >= 400) else 0
    return want


def compare(by, group_of):
    rows = json.loads(usage("--by", by, "--format", "json").stdout)
    rh.check(rows and rows[-1]["total"] is True, f"--by {by}: no total row: {rows}")
    got = {r[by]: r for r in rows if not r["total"]}
    want = expected(group_of)
    rh.check(set(got) == set(want), f"--by {by}: groups {sorted(map(str, got))} vs "
                                    f"{sorted(map(str, want))}")
    for k, w in want.items():
        g = got[k]
        for f in ("calls", "input_tokens", "output_tokens", "errors"):
            rh.check(g[f] == w[f], f"--by {by} {k}: {f} {g[f]} vs events {w[f]}")
        rh.check(abs(g["cost_usd"] - w["cost_usd"]) < 1e-9,
                 f"--by {by} {k}: cost {g['cost_usd']} vs events {w['cost_usd']}")
    total = rows[-1]
    rh.check(total["calls"] == len(calls), f"--by {by}: total calls {total['calls']}")
    rh.check(abs(total["cost_usd"] - sum(e["cost_usd"] or 0 for e in calls)) < 1e-9,
             f"--by {by}: total cost {total['cost_usd']}")
    return got


by_model = compare("model", model_of)
# the model is the response's (a dated snapshot), else the request's
gpt4o = sum(r["calls"] for k, r in by_model.items() if k and k.startswith("gpt-4o") and "mini" not in k)
rh.check(gpt4o == 5, f"gpt-4o calls over both runs: {gpt4o} in {sorted(map(str, by_model))}")
by_agent = compare("agent", lambda e: e["agent"]["id"] if e["agent"] else None)
rh.check(len(by_agent) >= 5, f"one agent per client process: {sorted(by_agent)}")
by_key = compare("key", lambda e: e["api_key_fingerprint"])
rh.check(len(by_key) == 1, f"one key, one fingerprint across the restart: {sorted(by_key)}")

# The other formats and filters run and agree on the call count.
table = usage("--by", "provider").stdout.splitlines()
rh.check(table[0].startswith("PROVIDER") and table[-1].startswith("TOTAL"), f"table: {table}")
rh.check(table[-1].split()[1] == str(len(calls)), f"table total: {table[-1]}")
csv = usage("--by", "day", "--format", "csv").stdout.splitlines()
rh.check(csv[0].startswith("day,calls,") and csv[-1].startswith(f"TOTAL,{len(calls)},"), f"csv: {csv}")
future = json.loads(usage("--since", "2999-01-01", "--format", "json").stdout)
rh.check(len(future) == 1 and future[0]["calls"] == 0, f"--since in the future: {future}")
recent = json.loads(usage("--since", "1h", "--format", "json").stdout)
rh.check(recent[-1]["calls"] == len(calls), f"--since 1h: {recent[-1]}")

for bad, what in ((["--ledger", ledger, "--since", "7x"], "--since"),
                  (["--ledger", os.path.join(work, "none.db")], "No such file"),
                  (["--ledger", mock.ca], "not a Rein usage ledger")):
    p = subprocess.run([rh.rein_bin(), "usage"] + bad,
                       capture_output=True, text=True, timeout=60)
    rh.check(p.returncode == 1 and what in p.stderr, f"rein usage {bad}: {p.returncode} {p.stderr}")

print(f"PASS: {len(calls)} calls over two runs, ledger totals equal the events "
      f"({len(by_model)} models, {len(by_agent)} agents)")
