#!/usr/bin/env bash
# One raw HTTP/1.1 request to the mock LLM server through gnutls-cli (GnuTLS,
# so the sensor's GnuTLS uprobes are exercised). Sends "Connection: close",
# waits for the server to close, and always terminates (watchdog, --timeout).
#
# usage: gnutls_request.sh --base-url https://127.0.0.1:PORT --cacert CA
#          [--path /v1/chat/completions] [--model M] [--stream y|n] [--gzip y|n]
#          [--body JSON] [--header 'Name: value']... [--out FILE]
#          [--wait-before S] [--timeout S]
# Prints one JSON summary line; the raw response (headers + chunked body as
# received) goes to --out if given.
set -euo pipefail

base_url="" cacert="" path="/v1/chat/completions" model="" stream="n" gzip="n" body=""
out="" wait_before=0 timeout_s=20
headers=()
while [ $# -gt 0 ]; do
  case "$1" in
    --base-url) base_url=$2; shift 2 ;;
    --cacert) cacert=$2; shift 2 ;;
    --path) path=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --stream) stream=$2; shift 2 ;;
    --gzip) gzip=$2; shift 2 ;;
    --body) body=$2; shift 2 ;;
    --header) headers+=("$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --wait-before) wait_before=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$base_url" ] || { echo "--base-url is required" >&2; exit 2; }

hostport=${base_url#https://}
hostport=${hostport%%/*}
if [[ $hostport == \[* ]]; then
  host=${hostport#[}; host=${host%%]*}; port=${hostport##*]:}
else
  host=${hostport%:*}; port=${hostport##*:}
fi

[ "$stream" = y ] && s=true || s=false
if [ -z "$body" ]; then
  case "$path" in
    *:generateContent*|*:streamGenerateContent*)
      body='{"contents":[{"role":"user","parts":[{"text":"hello from gnutls-cli"}]}]}'
      if [ "$stream" = y ] && [[ $path == *:generateContent* ]]; then
        path=${path/:generateContent/:streamGenerateContent}?alt=sse
      fi ;;
    */v1/messages)
      body=$(printf '{"model":"%s","max_tokens":64,"stream":%s,"messages":[{"role":"user","content":"hello from gnutls-cli"}]}' "${model:-claude-sonnet-4-5}" "$s") ;;
    */responses)
      body=$(printf '{"model":"%s","stream":%s,"input":"hello from gnutls-cli"}' "${model:-gpt-4o}" "$s") ;;
    */api/generate)
      body=$(printf '{"model":"%s","stream":%s,"prompt":"hello from gnutls-cli"}' "${model:-llama3.2}" "$s") ;;
    */api/chat)
      body=$(printf '{"model":"%s","stream":%s,"messages":[{"role":"user","content":"hello from gnutls-cli"}]}' "${model:-llama3.2}" "$s") ;;
    *)
      opts=""; [ "$stream" = y ] && opts=',"stream_options":{"include_usage":true}'
      body=$(printf '{"model":"%s","stream":%s%s,"messages":[{"role":"user","content":"hello from gnutls-cli"}]}' "${model:-gpt-4o-mini}" "$s" "$opts") ;;
  esac
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
req=$work/request raw=${out:-$work/response}
{
  printf 'POST %s HTTP/1.1\r\n' "$path"
  printf 'Host: %s\r\n' "$host"
  printf 'User-Agent: gnutls-cli-mock/1\r\nContent-Type: application/json\r\n'
  printf 'Authorization: Bearer sk-proj-MOCKmockMOCKmockMOCKmock0000\r\n'
  [ "$gzip" = y ] && printf 'Accept-Encoding: gzip\r\nx-mock-gzip: 1\r\n'
  for h in ${headers[@]+"${headers[@]}"}; do printf '%s\r\n' "$h"; done
  printf 'Content-Length: %d\r\nConnection: close\r\n\r\n' "$(printf %s "$body" | wc -c)"
  printf %s "$body"
} >"$req"

sleep "$wait_before"
# gnutls-cli keeps reading after stdin EOF until the server closes; the
# watchdog bounds it if the server never does.
gnutls-cli --x509cafile "$cacert" -p "$port" "$host" --logfile=/dev/null \
  <"$req" >"$raw" 2>"$work/stderr" &
gpid=$!
sleep "$timeout_s" &
wpid=$!
while kill -0 "$gpid" 2>/dev/null && kill -0 "$wpid" 2>/dev/null; do sleep 0.05; done
timed_out=false
if kill -0 "$gpid" 2>/dev/null; then timed_out=true; kill "$gpid" 2>/dev/null || true; fi
kill "$wpid" 2>/dev/null || true
rc=0; wait "$gpid" 2>/dev/null || rc=$?
wait "$wpid" 2>/dev/null || true

status=$(head -n 1 "$raw" | tr -d '\r' | awk '{print $2}')
rid=$(sed -n '/^\r\?$/q;p' "$raw" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-mock-request-id"{print $2}')
complete=false
if [ -z "$status" ]; then
  :
elif [ "$(tail -c 5 "$raw" | od -An -c | tr -d ' \n')" = '0\r\n\r\n' ] || ! grep -qi '^transfer-encoding: chunked' "$raw"; then
  complete=true
fi
printf '{"client":"gnutls-cli","pid":%d,"path":"%s","requests":1,"ok":%d,"statuses":[%d],"request_id":"%s","bytes":%d,"complete":%s,"timed_out":%s,"rc":%d}\n' \
  "$gpid" "$path" "$([ "${status:-0}" = 200 ] && echo 1 || echo 0)" "${status:-0}" "$rid" \
  "$(wc -c <"$raw")" "$complete" "$timed_out" "$rc"
