#!/usr/bin/env python3
"""Benchmark client: N requests on one kept-alive HTTPS connection, as fast as it can.
  tls_loop.py PORT CAFILE models|chat N
`models` is GET /v1/models (not an LLM call: the sensor has no reason to track this client);
`chat` is a small streamed chat completion with usage (one llm.call each when tracked).
Waits for a line on stdin before connecting, so the sensor can hook it first.
Prints {"ok": <2xx responses>, "seconds": <loop time>}."""
import http.client
import json
import socket
import ssl
import sys
import time

port, cafile, kind, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
body = json.dumps({"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
sys.stdin.readline()
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=cafile))
conn.connect()
# http.client sets it too; said here because without it every request waits ~40 ms on Nagle
# and the delayed ACK, and the benchmark would measure that timer instead of CPU.
conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
ok = 0
t0 = time.perf_counter()
for _ in range(n):
    if kind == "chat":
        conn.request("POST", "/v1/chat/completions", body,
                     {"content-type": "application/json", "authorization": "Bearer sk-proj-MOCK"})
    else:
        conn.request("GET", "/v1/models", headers={"authorization": "Bearer sk-proj-MOCK"})
    r = conn.getresponse()
    r.read()
    ok += 200 <= r.status < 300
print(json.dumps({"ok": ok, "seconds": time.perf_counter() - t0}), flush=True)
