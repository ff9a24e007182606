#!/usr/bin/env bash
# Self-test for the mock LLM server and its clients (bounded, < 60 s).
# Starts the server with TLS (plus a plain listener for Ollama), runs every
# client against several endpoints with and without streaming/gzip/keep-alive,
# then checks that the ledger has exactly one line per request and that what
# each client parsed off the wire matches the ledger's numbers.
# usage: selftest.sh [--keep]   (--keep leaves the work directory for inspection)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
clients=$here/clients
PY=${PYTHON:-/usr/bin/python3}
keep=false
[ "${1:-}" = "--keep" ] && keep=true
work=$(mktemp -d /tmp/mock-llm-selftest.XXXXXX)
results=$work/results.jsonl
server_pid=""
deadline=$((SECONDS + 55))

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if $keep; then echo "selftest: work dir kept at $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

fail() { echo "selftest: FAIL: $*" >&2; [ -f "$work/server.err" ] && tail -5 "$work/server.err" >&2; exit 1; }
left() { local l=$((deadline - SECONDS)); [ "$l" -gt 0 ] || fail "out of time"; [ "$l" -lt 20 ] && echo "$l" || echo 20; }

eval "$("$here/make-cert.sh" "$work/certs")"

"$PY" "$here/server.py" --cert "$CERT_FILE" --key "$KEY_FILE" --also-plain \
  --ledger "$work/ledger.jsonl" --port-file "$work/port.json" --max-seconds 90 \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port.json" ] && break; sleep 0.1; done
[ -s "$work/port.json" ] || fail "server did not become ready"
port=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$work/port.json")
plain=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["plain_port"])' "$work/port.json")
B=https://127.0.0.1:$port
H=http://127.0.0.1:$plain
CA=$CA_FILE

# run LABEL COUNT STATUS CUT KEEP -- command...
# Records the expectation next to the client's JSON summary.
run() {
  local label=$1 count=$2 status=$3 cut=$4 keepalive=$5; shift 6
  local out
  out=$(timeout "$(left)" "$@") || fail "$label: client exited with $?"
  printf '{"label":"%s","count":%d,"status":%d,"cut":%s,"keep":%s,"summary":%s}\n' \
    "$label" "$count" "$status" "$cut" "$keepalive" "$out" >>"$results"
}
pyc=("$PY" "$clients/py_client.py" --cacert "$CA")
ndc=(node "$clients/node_client.js" --cacert "$CA")

# curl: several transfers in one command line (curl reuses the connection);
# options reset after --next, so each section repeats "${copts[@]}".
curl_run() {
  local label=$1 count=$2 codes; shift 2
  codes=$(timeout "$(left)" curl "$@") || fail "$label: curl exited with $?"
  "$PY" - "$label" "$count" "$codes" >>"$results" <<'EOF'
import json, sys
label, count = sys.argv[1], int(sys.argv[2])
lines = [l.split() for l in sys.argv[3].split("\n") if l.strip()]
print(json.dumps({"label": label, "count": count, "status": 200, "cut": False,
                  "keep": len(lines) > 1,
                  "summary": {"client": "curl", "requests": len(lines),
                              "statuses": [int(l[0]) for l in lines],
                              "connections": sum(int(l[1]) for l in lines),
                              "request_ids": [l[2] if len(l) > 2 else None for l in lines]}}))
EOF
}
copts=(-sS --cacert "$CA" -o /dev/null -w '%{http_code} %{num_connects} %header{x-mock-request-id}\n')

msg='{"model":"claude-haiku-4-5","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
chat='{"model":"gpt-4o","stream":false,"messages":[{"role":"user","content":"hi from curl"}]}'
gem='{"contents":[{"role":"user","parts":[{"text":"hi from curl"}]}]}'

# ---- Python (urllib and http.client keep-alive)
run py-chat-stream-gzip 2 200 false false -- "${pyc[@]}" --base-url "$B" --count 2 --stream y --gzip y
run py-anthropic-stream-ka 3 200 false true -- "${pyc[@]}" --base-url "$B" --path /v1/messages --count 3 --stream y --keep-alive y
run py-gemini-sse-ka 2 200 false true -- "${pyc[@]}" --base-url "$B" --path /v1beta/models/gemini-2.5-flash:generateContent --count 2 --stream y --keep-alive y
run py-gemini-array-gzip 1 200 false false -- "${pyc[@]}" --base-url "$B" --path /v1beta/models/gemini-2.5-pro:streamGenerateContent --stream y --gzip y
run py-responses-ka 2 200 false true -- "${pyc[@]}" --base-url "$B" --path /v1/responses --count 2 --keep-alive y
run py-ollama-chat-stream 2 200 false true -- "${pyc[@]}" --base-url "$H" --path /api/chat --count 2 --stream y --keep-alive y
run py-ollama-generate 1 200 false false -- "${pyc[@]}" --base-url "$H" --path /api/generate --stream n
run py-groq-stream 1 200 false false -- "${pyc[@]}" --base-url "$B" --path /openai/v1/chat/completions --model llama-3.3-70b-versatile --stream y --include-usage n
run py-deepseek-stream 1 200 false false -- "${pyc[@]}" --base-url "$B" --path /chat/completions --model deepseek-chat --stream y --wait-before 0.1
run py-mistral-stream 1 200 false false -- "${pyc[@]}" --base-url "$B" --model mistral-large-latest --stream y --include-usage n
run py-openai-stream-nousage 1 200 false false -- "${pyc[@]}" --base-url "$B" --stream y --include-usage n
run py-1mib-gzip 1 200 false true -- "${pyc[@]}" --base-url "$B" --size 1048576 --gzip y --keep-alive y
run py-cut-anthropic 1 200 true false -- "${pyc[@]}" --base-url "$B" --path /v1/messages --stream y --cut y
run py-429 1 429 false true -- "${pyc[@]}" --base-url "$B" --model mock-error-429 --keep-alive y

# ---- Node (https.Agent keep-alive and one connection per request)
run node-chat-stream-gzip-ka 3 200 false true -- "${ndc[@]}" --base-url "$B" --count 3 --stream y --gzip y --keep-alive y
run node-responses-stream 2 200 false false -- "${ndc[@]}" --base-url "$B" --path /v1/responses --count 2 --stream y
run node-anthropic-gzip-ka 2 200 false true -- "${ndc[@]}" --base-url "$B" --path /v1/messages --count 2 --gzip y --keep-alive y
run node-gemini 1 200 false false -- "${ndc[@]}" --base-url "$B" --path /v1beta/models/gemini-2.5-flash:generateContent
run node-ollama-generate-ka 2 200 false true -- "${ndc[@]}" --base-url "$H" --path /api/generate --count 2 --stream y --keep-alive y
run node-azure-stream 1 200 false false -- "${ndc[@]}" --base-url "$B" --path "/openai/deployments/prod-gpt/chat/completions?api-version=2024-10-21" --stream y
run node-azure-responses-stream 1 200 false false -- "${ndc[@]}" --base-url "$B" --path "/openai/deployments/prod-gpt/responses?api-version=2025-04-01-preview" --stream y
run node-1mib-stream 1 200 false false -- "${ndc[@]}" --base-url "$B" --size 1048576 --stream y
run node-cut-chat-gzip 1 200 true false -- "${ndc[@]}" --base-url "$B" --stream y --gzip y --cut y
run node-429-anthropic 1 429 false false -- "${ndc[@]}" --base-url "$B" --path /v1/messages --model mock-error-429 --wait-before 0.1

# ---- curl CLI (two transfers on one connection, then a gzip Gemini array stream)
curl_run curl-chat-ka 2 "${copts[@]}" "$B/v1/chat/completions" -d "$chat" \
  --next "${copts[@]}" -N "$B/v1/messages" -d "$msg"
curl_run curl-gemini-gzip 1 "${copts[@]}" --compressed -H 'x-mock-gzip: 1' \
  "$B/v1beta/models/gemini-2.5-flash:streamGenerateContent" -d "$gem"

# ---- gnutls-cli (one raw request each)
run gnutls-chat-stream 1 200 false false -- "$clients/gnutls_request.sh" --base-url "$B" --cacert "$CA" --stream y --timeout 10
run gnutls-anthropic 1 200 false false -- "$clients/gnutls_request.sh" --base-url "$B" --cacert "$CA" --path /v1/messages --gzip y --timeout 10

kill "$server_pid"
for _ in $(seq 30); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$server_pid" 2>/dev/null && fail "server ignored SIGTERM"
wait "$server_pid" || fail "server exited non-zero"
server_pid=""

"$PY" - "$results" "$work/ledger.jsonl" "$work/server.err" <<'EOF'
import json, sys

results = [json.loads(l) for l in open(sys.argv[1])]
ledger = [json.loads(l) for l in open(sys.argv[2])]
errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)

by_id = {r["request_id"]: r for r in ledger}
expected = sum(r["count"] for r in results)
check(len(ledger) == expected, f"ledger has {len(ledger)} lines, expected {expected}")
check(len(by_id) == len(ledger), "duplicate request ids in ledger")
check([r["seq"] for r in ledger] == sorted(r["seq"] for r in ledger), "seq not increasing")
check(sorted(r["seq"] for r in ledger) == list(range(1, len(ledger) + 1)), "seq has gaps")
sent = [r for r in ledger if r["usage_sent"]]
for key in ("input_tokens", "output_tokens"):
    vals = [r[key] for r in sent]
    check(len(set(vals)) == len(vals), f"{key} repeats across requests")
    check(all(isinstance(v, int) and v > 0 for v in vals), f"{key} not positive ints")
FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens",
          "cache_creation_input_tokens", "reasoning_tokens")

for res in results:
    label, s = res["label"], res["summary"]
    check(s["requests"] == res["count"], f"{label}: made {s['requests']} requests")
    check(s["statuses"] == [res["status"]] * res["count"], f"{label}: statuses {s['statuses']}")
    if res["keep"] and not res["cut"] and "connections" in s:
        check(s["connections"] == 1, f"{label}: keep-alive used {s['connections']} connections")
    calls = s.get("calls")
    if calls is None:
        ids = s.get("request_ids") or [s.get("request_id")]
        calls = [{"request_id": i, "status": st, "usage": "n/a"} for i, st in zip(ids, s["statuses"])]
    check(len(calls) == res["count"], f"{label}: {len(calls)} request ids")
    for c in calls:
        row = by_id.get(c["request_id"])
        if row is None:
            errors.append(f"{label}: request {c['request_id']} missing from ledger")
            continue
        check(row["status"] == c["status"], f"{label}: ledger status {row['status']} != {c['status']}")
        if s.get("pid") is not None and row["client_pid"] is not None:
            check(row["client_pid"] == s["pid"], f"{label}: ledger pid {row['client_pid']} != client {s['pid']}")
        if res["cut"]:
            check(row["cut"] and not row["usage_sent"], f"{label}: cut not recorded")
            check(c.get("incomplete") is True and c.get("usage") is None, f"{label}: client saw a complete response")
        elif res["status"] != 200:
            check(not row["usage_sent"], f"{label}: error row claims usage")
        elif "nousage" in label:
            check(not row["usage_sent"] and c["usage"] is None, f"{label}: usage was sent")
        elif c["usage"] != "n/a":
            check(row["usage_sent"] and c["usage"] is not None, f"{label}: usage missing {c}")
            if c["usage"]:
                for f in FIELDS:
                    check(c["usage"].get(f) == row[f],
                          f"{label}: {f} client {c['usage'].get(f)} ledger {row[f]}")
        if "size" in label or "1mib" in label:
            check(c.get("bytes", 0) >= 1040000, f"{label}: body only {c.get('bytes')} bytes")

err_text = open(sys.argv[3]).read()
check("Traceback" not in err_text, "server stderr has a traceback")
if errors:
    print("\n".join(errors[:40]), file=sys.stderr)
    sys.exit(1)
print(f"selftest: OK: {len(results)} client runs, {len(ledger)} requests, "
      f"{len(sent)} with usage, all matched the ledger")
EOF
