#!/usr/bin/env python3
"""Agent discovery on the real kernel, in the default mode (TLS hooks only in tracked
processes) and in `--tls-hooks system`. No client here is selected by anything: each
must become an agent by what it sends, or stay untracked.

a. TLS ClientHello with an LLM API server name (SNI api.openai.com), the mock delaying its
   side of the handshake by 100 ms (a network round trip to a distant API; hooking takes
   10-20 ms here, with outliers past 40 ms on a loaded host): discovered in the kernel at the
   first write (agents_discovered_sni), libssl hooked for that process before the first
   request; all 4 calls (3 on one keep-alive connection, 1 on a second) equal the ledger.
b. Same with no handshake delay (SNI api.anthropic.com, 2 connections x 2 requests): the
   first connection may finish its handshake before the hooks are in; what is not decoded
   must be covered by an llm.unobserved event, and the second connection is decoded. A
   decoded call always has its usage: a connection joined mid-message resynchronises, and
   a TLS object Python reallocates at the same address starts a new stream.
c. Plain HTTP that starts like an LLM call (POST /api/chat): discovered
   (agents_discovered_plain_http) and decoded.
d. TLS to a name that is not an LLM host (SNI example.com), and TLS by IP (no SNI): never
   tracked, not a single event with their pids.
e. --tls-hooks system: a client by IP (no SNI) is discovered by the hooks themselves and
   its call decoded (the old behaviour).
Token numbers come from the mock's ledger, never from this file."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
T0 = time.time()
BUDGET_S = 85
TOKENS = ("input_tokens", "output_tokens", "cache_read_input_tokens",
          "cache_creation_input_tokens", "reasoning_tokens")


def read_events(path):
    """The complete lines written so far (the sensor may be in the middle of a line)."""
    out = []
    try:
        with open(path) as f:
            data = f.read()
    except FileNotFoundError:
        return out
    for line in data.split("\n")[:-1]:
        if line.strip():
            out.append(json.loads(line))
    return out


def pid_of(e):
    return (e.get("process") or {}).get("pid")


def wait_for(sensor, pred, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(pred(e) for e in read_events(sensor.out)):
            return
        time.sleep(0.05)
    rh.fail(f"timed out waiting for {what}")


def settle(sensor, pid):
    """Start the next part only once the sensor has handled this client's exit (its
    process.exit is written after the exit record, hooks included, was processed), so
    parts do not share the sensor's reaction time."""
    wait_for(sensor, lambda e: e.get("type") == "process.exit" and pid_of(e) == pid,
             f"process.exit of {pid}")


def run_client(mock, args):
    rh.check(time.time() - T0 < BUDGET_S, "out of time")
    pid, out, err = mock.client(args, timeout=40)
    lines = out.strip().splitlines()
    rh.check(lines, f"client {pid} printed nothing: {err}")
    summary = json.loads(lines[-1])
    return pid, summary


def match_ledger(where, calls, entries):
    """Every decoded call equals one ledger entry of the same client (input and output
    counts are unique within a mock run). Returns the entries that had no call."""
    left = list(entries)
    for e in calls:
        u = e.get("usage") or {}
        found = [l for l in left if l["input_tokens"] == u.get("input_tokens")
                 and l["output_tokens"] == u.get("output_tokens")]
        rh.check(len(found) == 1, f"{where}: call {e['path']} usage {u} matches no ledger entry "
                 f"of the client: {[(l['seq'], l['input_tokens'], l['output_tokens']) for l in left]}")
        l = found[0]
        left.remove(l)
        rh.check(e["status"] == l["status"] == 200, f"{where}: status {e['status']} vs {l['status']}")
        rh.check(e["agent"] is not None, f"{where}: call without agent")
        rh.check(not e["usage_missing"], f"{where}: usage missing {e.get('usage_note')}")
        for k in TOKENS:
            rh.check(u[k] == l[k], f"{where} seq {l['seq']}: {k} {u[k]} vs ledger {l[k]}")
    return left


def discovered(events, pid):
    return [e for e in events if e["type"] == "agent.discovered" and pid_of(e) == pid]


def of_pid(events, t, pid):
    return [e for e in events if e["type"] == t and pid_of(e) == pid]


slow = lh.MockServer(max_seconds=150, handshake_delay_ms=100)
fast = lh.MockServer(max_seconds=150, handshake_delay_ms=0)
report = []
try:
    # ---------------------------------------------------------------- default mode
    with rh.Sensor(["--no-default-agents"]) as s:
        h0 = rh.health(read_events(s.out), "started")
        rh.check(h0 and h0[0]["tls_hooks"] == "process" and h0[0]["autodiscover"],
                 f"default mode expected: {h0}")
        # a. SNI, 100 ms round trip
        pid_a, sum_a = run_client(slow, ["--base-url", slow.https, "--sni", "api.openai.com",
                                         "--path", "/v1/chat/completions", "--model", "gpt-4o",
                                         "--count", "4", "--keep-alive", "y",
                                         "--per-connection", "3"])
        rh.check(sum_a["ok"] == 4 and sum_a["connections"] == 2, f"client a: {sum_a}")
        settle(s, pid_a)
        # b. SNI, no delay
        pid_b, sum_b = run_client(fast, ["--base-url", fast.https, "--sni", "api.anthropic.com",
                                         "--path", "/v1/messages", "--model", "claude-haiku-4-5",
                                         "--count", "4", "--keep-alive", "y",
                                         "--per-connection", "2",
                                         # an agent's calls are seconds apart, not microseconds
                                         "--connection-pause", "0.3"])
        rh.check(sum_b["ok"] == 4 and sum_b["connections"] == 2, f"client b: {sum_b}")
        settle(s, pid_b)
        # c. plain HTTP, Ollama shape
        pid_c, sum_c = run_client(fast, ["--base-url", fast.http, "--path", "/api/chat",
                                         "--model", "llama3.2", "--stream", "y"])
        rh.check(sum_c["ok"] == 1, f"client c: {sum_c}")
        settle(s, pid_c)
        # d. not LLM traffic as far as the kernel can tell: must stay untracked
        pid_d1, sum_d1 = run_client(fast, ["--base-url", fast.https, "--sni", "example.com",
                                           "--path", "/v1/chat/completions", "--count", "2",
                                           "--keep-alive", "y"])
        rh.check(sum_d1["ok"] == 2, f"client d1: {sum_d1}")
        pid_d2, sum_d2 = run_client(fast, ["--base-url", fast.https,
                                           "--path", "/v1/chat/completions"])
        rh.check(sum_d2["ok"] == 1, f"client d2: {sum_d2}")
        s.fence()  # anything the sensor would say about d is out by now
        events = s.stop()
    # ---------------------------------------------------------------- system-wide hooks
    with rh.Sensor(["--no-default-agents", "--tls-hooks", "system"]) as s2:
        h0 = rh.health(read_events(s2.out), "started")
        rh.check(h0 and h0[0]["tls_hooks"] == "system", f"system mode expected: {h0}")
        pid_e, sum_e = run_client(fast, ["--base-url", fast.https,
                                         "--path", "/v1/chat/completions", "--model", "gpt-4o-mini"])
        rh.check(sum_e["ok"] == 1, f"client e: {sum_e}")
        settle(s2, pid_e)
        events2 = s2.stop()
finally:
    slow.stop()
    fast.stop()

raw = open(s.out).read() + open(s2.out).read()
ledger_slow = {}
for l in slow.entries():
    ledger_slow.setdefault(l["client_pid"], []).append(l)
ledger_fast = {}
for l in fast.entries():
    ledger_fast.setdefault(l["client_pid"], []).append(l)
k = rh.health(events, "stopped")[-1]["kernel"]
k2 = rh.health(events2, "stopped")[-1]["kernel"]
for kk, ev in ((k, events), (k2, events2)):
    rh.check(kk["drop_ringbuf_full"] == 0, f"ring drops {kk}")

# a
d = discovered(events, pid_a)
calls = of_pid(events, "llm.call", pid_a)
unobs = of_pid(events, "llm.unobserved", pid_a)
report.append(f"a: pid {pid_a} discovered {[x.get('how', x.get('reason')) for x in d]}, "
              f"{len(calls)}/4 calls decoded, {len(unobs)} unobserved, "
              f"kernel agents_discovered_sni {k.get('agents_discovered_sni')}")
rh.check(d, f"a: no agent.discovered for {pid_a}")
rh.check(k.get("agents_discovered_sni", 0) >= 1, f"a: kernel counters {k}")
rh.check(len(ledger_slow.get(pid_a, [])) == 4, f"a: ledger {ledger_slow.get(pid_a)}")
rh.check(len(calls) == 4, f"a: {len(calls)} of 4 calls decoded; unobserved {unobs}")
rh.check(not unobs, f"a: unobserved {unobs}")
match_ledger("a", calls, ledger_slow[pid_a])
rh.check(all(c.get("source") == "openssl" and c.get("protocol") == "http/1.1" for c in calls),
         f"a: source/protocol {[(c.get('source'), c.get('protocol')) for c in calls]}")

# b
d = discovered(events, pid_b)
calls = of_pid(events, "llm.call", pid_b)
unobs = of_pid(events, "llm.unobserved", pid_b)
entries = ledger_fast.get(pid_b, [])
rh.check(len(entries) == 4, f"b: ledger {entries}")
conns = []  # client ports in order of first request
for l in sorted(entries, key=lambda l: l["seq"]):
    if l["client_port"] not in conns:
        conns.append(l["client_port"])
rh.check(len(conns) == 2, f"b: connections in the ledger {conns}")
missed = match_ledger("b", calls, entries)
missed_conns = {l["client_port"] for l in missed}
on_missed = [l for l in entries if l["client_port"] in missed_conns]
p_stop = rh.health(events, "stopped")[-1]["pipeline"]
report.append(f"b: pid {pid_b} discovered {bool(d)}, {len(calls)}/4 calls decoded, "
              f"{len(unobs)} llm.unobserved "
              f"{[(u['sni'], u['reason'], u.get('decided_ms')) for u in unobs]}, "
              f"missed connections {sorted(conns.index(p) + 1 for p in missed_conns)}, "
              f"http_streams_reused {p_stop.get('http_streams_reused')} (whole run)")
rh.check(d, f"b: no agent.discovered for {pid_b}")
rh.check(conns[-1] not in missed_conns, f"b: the second connection was not decoded: {missed}")
partly = sorted(conns.index(p) + 1 for p in missed_conns
                if any(l["client_port"] == p for l in entries if l not in missed))
# a connection whose first requests went out before the hooks says so (partial: true)
partial = [u for u in unobs if u.get("partial")]
rh.check(len(partly) <= len(partial), f"b: connection(s) {partly} partly decoded: the request(s) "
         f"{[(l['seq'], l['client_port']) for l in missed]} were lost and no partial "
         f"llm.unobserved covers them (unobserved: {unobs})")
rh.check(len(calls) + len(missed) == 4,
         f"b: {len(calls)} decoded + {len(missed)} missed != 4")
rh.check(len(unobs) >= len(missed_conns),
         f"b: {len(missed_conns)} connections not decoded, {len(unobs)} llm.unobserved: {unobs}")
for u in unobs:
    rh.check((u["sni"] == "api.anthropic.com" or u.get("partial")) and u["port"] == fast.port
             and u["reason"] and u["agent"], f"b: llm.unobserved fields {u}")

# c
d = discovered(events, pid_c)
calls = of_pid(events, "llm.call", pid_c)
report.append(f"c: pid {pid_c} discovered {bool(d)}, {len(calls)}/1 calls decoded, "
              f"kernel agents_discovered_plain_http {k.get('agents_discovered_plain_http')}")
rh.check(d, f"c: no agent.discovered for {pid_c}")
rh.check(k.get("agents_discovered_plain_http", 0) >= 1, f"c: kernel counters {k}")
rh.check(len(calls) == 1, f"c: {len(calls)} calls")
rh.check(not match_ledger("c", calls, ledger_fast.get(pid_c, [])), "c: ledger mismatch")
rh.check(calls[0]["source"] == "socket", f"c: source {calls[0]['source']}")

# d
for name, pid in (("d1 (SNI example.com)", pid_d1), ("d2 (IP, no SNI)", pid_d2)):
    rh.check(len(ledger_fast.get(pid, [])) >= 1, f"{name}: not in the ledger")
    mine = [e for e in events if pid_of(e) == pid or
            (e.get("agent") or {}).get("root_pid") == pid]
    report.append(f"{name}: pid {pid}, {len(mine)} events")
    rh.check(not mine, f"{name}: untracked client produced events: "
             f"{[json.dumps(e)[:300] for e in mine]}")

# e
d = discovered(events2, pid_e)
calls = of_pid(events2, "llm.call", pid_e)
report.append(f"e: pid {pid_e} discovered {bool(d)}, {len(calls)}/1 calls decoded "
              f"(system-wide hooks)")
rh.check(d, f"e: no agent.discovered for {pid_e}")
rh.check(len(calls) == 1, f"e: {len(calls)} calls; events of the pid "
         f"{[e['type'] for e in events2 if pid_of(e) == pid_e]}")
rh.check(not match_ledger("e", calls, ledger_fast.get(pid_e, [])), "e: ledger mismatch")

rh.check("sk-proj-MOCK" not in raw and "sk-ant-api03-MOCK" not in raw, "a key leaked")
for line in report:
    print(line)
print(f"PASS: discovery a-e in {time.time() - T0:.1f} s")
