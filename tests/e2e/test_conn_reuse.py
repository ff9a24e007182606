#!/usr/bin/env python3
"""Connections that end mid-response must not spoil the next one, on the real kernel.

A Python client (selected with --agent-script) runs 3 rounds over TLS and 3 over plain
HTTP. Each round opens a connection, asks for a slowly streamed completion, reads its
head and first piece and hangs up (the rest of the body is never read), then opens a new
connection and makes a whole non-streamed call. Python frees the first connection's SSL
object and its socket, and the second connection often gets the same addresses: the
kernel's stream keys (SSL*, the socket's struct file) come back. Without telling the
connections apart, the second call's response is parsed as the rest of the first body and
the call is lost. A node client (selected with --agent-exe node) then does the same, as an
agent that aborts a streamed answer does: node's TLS runs over a memory BIO, so the kernel
never learns which socket an SSL object belongs to and user space must tell the
connections apart from the bytes alone. Every whole call must be decoded with the ledger's exact tokens; the cut
ones must not be reported with tokens they never carried. Token numbers come from the
mock's ledger, never from this file."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
ROUNDS = 3
CLIENT = r'''
import http.client, json, ssl, sys
ca, tls_port, plain_port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
key = "Bearer sk-proj-MOCKmockMOCKmockMOCKmock0000"

def conn(tls):
    if tls:
        return http.client.HTTPSConnection("127.0.0.1", tls_port, context=ctx, timeout=20)
    return http.client.HTTPConnection("127.0.0.1", plain_port, timeout=20)

def call(tls, stream, i, extra=None):
    c = conn(tls)
    body = {"model": "gpt-4o-mini", "stream": stream,
            "messages": [{"role": "user", "content": f"round {i} tls={tls} stream={stream}"}]}
    if stream:
        body["stream_options"] = {"include_usage": True}
    h = {"Authorization": key, "Content-Type": "application/json", "Host": "api.openai.com"}
    h.update(extra or {})
    c.request("POST", "/v1/chat/completions", json.dumps(body), h)
    r = c.getresponse()
    if stream:
        r.fp.readline()  # the first piece only; the rest is never read
        c.sock.close()
        c.close()
        return None
    data = r.read()
    c.close()
    return json.loads(data)["usage"]

for tls in (True, False):
    for i in range(rounds):
        call(tls, True, i, {"x-mock-delay-ms": "400"})
        u = call(tls, False, i)
        print(json.dumps({"tls": tls, "round": i, "usage": u}), flush=True)
'''
NODE_CLIENT = r'''
const fs = require("fs"), http = require("http"), https = require("https");
const [ca, tlsPort, plainPort, rounds] = process.argv.slice(2);
const caPem = fs.readFileSync(ca);
const key = "Bearer sk-proj-MOCKmockMOCKmockMOCKmock0000";
function call(tls, stream, i, extra) {
  return new Promise((resolve, reject) => {
    const body = {model: "gpt-4o-mini", stream,
                  messages: [{role: "user", content: `node round ${i} tls=${tls} stream=${stream}`}]};
    if (stream) body.stream_options = {include_usage: true};
    const opts = {host: "127.0.0.1", port: Number(tls ? tlsPort : plainPort), method: "POST",
                  path: "/v1/chat/completions", agent: false, timeout: 20000,
                  headers: Object.assign({authorization: key, "content-type": "application/json",
                                          host: "api.openai.com"}, extra || {})};
    if (tls) Object.assign(opts, {ca: caPem, checkServerIdentity: () => undefined});
    const req = (tls ? https : http).request(opts, (r) => {
      if (stream) {  // the first piece only, then the agent gives up on the answer
        r.once("data", () => { req.destroy(); resolve(null); });
        return;
      }
      let d = "";
      r.setEncoding("utf8");
      r.on("data", (c) => { d += c; });
      r.on("end", () => resolve(JSON.parse(d).usage));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => { if (!stream) reject(e); });
    req.end(JSON.stringify(body));
  });
}
(async () => {
  for (const tls of [true, false])
    for (let i = 0; i < Number(rounds); i++) {
      await call(tls, true, i, {"x-mock-delay-ms": "400"});
      const u = await call(tls, false, i);
      console.log(JSON.stringify({tls, round: i, usage: u}));
    }
})().catch((e) => { console.error(e); process.exit(1); });
'''

mock = lh.MockServer(max_seconds=120)
work = rh.workdir("rein-reuse-")
script = os.path.join(work, "reuse_client.py")
with open(script, "w") as f:
    f.write(CLIENT)
node_script = os.path.join(work, "reuse_client.js")
with open(node_script, "w") as f:
    f.write(NODE_CLIENT)
clients = {"python": [lh.PY, script], "node": ["node", node_script]}
pids = {}  # client pid -> client name
try:
    with rh.Sensor(["--no-default-agents", "--agent-script", "reuse_client.py",
                    "--agent-exe", "node"]) as s:
        for name, argv in clients.items():
            p = subprocess.Popen(argv + [mock.ca, str(mock.port), str(mock.plain_port), str(ROUNDS)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            pids[p.pid] = name
            out, err = p.communicate(timeout=90)
            rh.check(p.returncode == 0, f"{name} client failed: {err[-2000:]}")
            printed = [json.loads(line) for line in out.splitlines() if line.strip()]
            rh.check(len(printed) == 2 * ROUNDS, f"{name} client printed {printed}")
        s.fence()
        events = s.stop()
finally:
    mock.stop()

calls = [e for e in events if e["type"] == "llm.call"]
ledger = mock.entries()
whole = [l for l in ledger if not l["stream"]]
cut = [l for l in ledger if l["stream"]]
rh.check(len(whole) == 2 * ROUNDS * len(clients) and len(cut) == 2 * ROUNDS * len(clients),
         f"ledger {ledger}")
rh.check(all(l.get("client_pid") in pids for l in ledger), f"ledger client pids {ledger} vs {pids}")
stop = rh.health(events, "stopped")[-1]
print(f"{len(calls)} llm.call events for {len(ledger)} requests ({len(cut)} cut); "
      f"http_streams_reused {stop['pipeline'].get('http_streams_reused')}, "
      f"http_responses_abandoned {stop['pipeline'].get('http_responses_abandoned')}, "
      f"http_streams {stop['pipeline'].get('http_streams')}")
for l in whole:
    where = f"{pids[l['client_pid']]} {l['listener']} seq {l['seq']} (port {l['client_port']})"
    mine = [e for e in calls if not e["stream"] and e["process"]["pid"] == l["client_pid"]
            and e["usage"]["input_tokens"] == l["input_tokens"]
            and e["usage"]["output_tokens"] == l["output_tokens"]]
    rh.check(len(mine) == 1, f"{where}: whole call not decoded exactly once: {len(mine)} match; "
             f"calls {[(e['stream'], e['usage']['input_tokens'], e['usage']['output_tokens'], e.get('usage_note')) for e in calls]}")
    e = mine[0]
    rh.check(e["status"] == 200 and not e["usage_missing"], f"{where}: {e}")
    rh.check((e["source"] == "socket") == (l["listener"] != "tls"),
             f"{where}: source {e['source']} listener {l['listener']}")
for e in calls:
    if e["stream"]:
        # a cut stream never got to its usage: no tokens may be invented for it
        rh.check(e["usage_missing"] or e["usage"]["input_tokens"] in
                 [l["input_tokens"] for l in cut if l.get("usage_sent")],
                 f"cut call with usage it never carried: {e['usage']}")
rh.check(stop["kernel"]["drop_ringbuf_full"] == 0, f"ring drops {stop['kernel']}")
print(f"PASS: {len(whole)} whole calls after {len(cut)} cut ones decoded exactly")
