#!/usr/bin/env python3
"""Real Python client for the mock LLM server (urllib / http.client over the
ssl module, i.e. OpenSSL SSL_read_ex/SSL_write_ex underneath).

Makes --count requests and prints one JSON summary line. With --keep-alive y
one http.client connection is reused for all requests; otherwise each request
goes through urllib.request on a new connection. The usage each response
carried is parsed here independently of the server, so a test can check the
server's ledger against what actually went over the wire.
"""

import argparse
import http.client
import json
import socket
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
import zlib
from urllib.parse import urlsplit

# Obviously fake credentials in each provider's shape, so a sensor sees
# realistic auth headers; none of them is a real secret.
FAKE_KEYS = {
    "openai": "sk-proj-MOCKmockMOCKmockMOCKmock0000",
    "anthropic": "sk-ant-api03-MOCKmockMOCKmockMOCK0000",
    "gemini": "AIzaMOCKmockMOCKmockMOCKmock0000",
    "azure": "00000000000000000000000000000000",
}


def yes(v):
    return str(v).lower() in ("y", "yes", "1", "true")


def api_of(path):
    path = path.split("?", 1)[0]
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return "gemini"
    if path.endswith("/api/chat"):
        return "ollama_chat"
    if path.endswith("/api/generate"):
        return "ollama_generate"
    if path.endswith("/v1/messages"):
        return "anthropic"
    if path.endswith("/responses"):
        return "responses"
    return "chat"


def request_path(path, api, stream):
    if api == "gemini" and stream and ":generateContent" in path:
        sep = "&" if "?" in path else "?"
        return path.replace(":generateContent", ":streamGenerateContent") + sep + "alt=sse"
    return path


def default_model(api, path):
    return {"chat": "gpt-4o-mini", "responses": "gpt-4o", "anthropic": "claude-sonnet-4-5",
            "ollama_chat": "llama3.2", "ollama_generate": "llama3.2"}.get(api, "")


def make_body(api, model, stream, include_usage, i):
    prompt = f"Request {i} from py_client pid {os.getpid()}: say hello." + " pad" * (i % 5)
    msgs = [{"role": "user", "content": prompt}]
    if api == "chat":
        b = {"model": model, "messages": msgs, "stream": stream}
        if stream and include_usage:
            b["stream_options"] = {"include_usage": True}
    elif api == "responses":
        b = {"model": model, "input": prompt, "stream": stream}
    elif api == "anthropic":
        b = {"model": model, "max_tokens": 256, "messages": msgs, "stream": stream}
    elif api == "gemini":
        b = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    elif api == "ollama_chat":
        b = {"model": model, "messages": msgs, "stream": stream}
    else:
        b = {"model": model, "prompt": prompt, "stream": stream}
    return json.dumps(b).encode()


def auth_headers(api, path, key):
    if api.startswith("ollama"):
        return {}
    if api == "anthropic":
        return {"x-api-key": key or FAKE_KEYS["anthropic"], "anthropic-version": "2023-06-01"}
    if api == "gemini":
        return {"x-goog-api-key": key or FAKE_KEYS["gemini"]}
    if "/openai/deployments/" in path:
        return {"api-key": key or FAKE_KEYS["azure"]}
    return {"Authorization": "Bearer " + (key or FAKE_KEYS["openai"])}


# ---------------------------------------------------------------- usage parsing

def json_objects(body, content_type):
    """Split a decoded body into the JSON objects it carries."""
    text = body.decode("utf-8", "replace")
    objs = []
    if "event-stream" in content_type:
        for block in text.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].lstrip(" ") for line in block.split("\n")
                             if line.startswith("data:"))
            if data and data != "[DONE]":
                try:
                    objs.append(json.loads(data))
                except ValueError:
                    pass
    elif "ndjson" in content_type:
        for line in text.splitlines():
            try:
                objs.append(json.loads(line))
            except ValueError:
                pass
    else:
        try:
            v = json.loads(text)
            objs = v if isinstance(v, list) else [v]
        except ValueError:
            pass
    return [o for o in objs if isinstance(o, dict)]


def usage_of(api, objs):
    """Final usage as raw provider numbers (same convention as the ledger), or None."""
    u = None
    pending = {}   # Anthropic: input/cache counts from message_start
    for o in objs:
        if api == "chat":
            cand = o.get("usage") or (o.get("x_groq") or {}).get("usage")
            if cand:
                ptd = cand.get("prompt_tokens_details") or {}
                ctd = cand.get("completion_tokens_details") or {}
                cached = cand.get("prompt_cache_hit_tokens", ptd.get("cached_tokens"))
                u = {"input_tokens": cand.get("prompt_tokens"),
                     "output_tokens": cand.get("completion_tokens"),
                     "cache_read_input_tokens": cached, "cache_creation_input_tokens": None,
                     "reasoning_tokens": ctd.get("reasoning_tokens")}
        elif api == "responses":
            cand = None
            if o.get("type") == "response.completed":
                cand = (o.get("response") or {}).get("usage")
            elif o.get("object") == "response":
                cand = o.get("usage")
            if cand:
                u = {"input_tokens": cand.get("input_tokens"),
                     "output_tokens": cand.get("output_tokens"),
                     "cache_read_input_tokens":
                         (cand.get("input_tokens_details") or {}).get("cached_tokens"),
                     "cache_creation_input_tokens": None,
                     "reasoning_tokens":
                         (cand.get("output_tokens_details") or {}).get("reasoning_tokens")}
        elif api == "anthropic":
            if o.get("type") == "message_start":
                start = (o.get("message") or {}).get("usage") or {}
                pending = {k: start.get(k) for k in ("input_tokens", "cache_read_input_tokens",
                                                      "cache_creation_input_tokens")}
            elif o.get("type") == "message_delta":
                d = o.get("usage") or {}
                merged = dict(pending)
                merged.update({k: v for k, v in d.items() if v is not None
                               and k in ("input_tokens", "cache_read_input_tokens",
                                         "cache_creation_input_tokens", "output_tokens")})
                u = dict(merged, reasoning_tokens=None)
            elif o.get("type") == "message":
                d = o.get("usage") or {}
                u = {k: d.get(k) for k in ("input_tokens", "output_tokens",
                                           "cache_read_input_tokens",
                                           "cache_creation_input_tokens")}
                u["reasoning_tokens"] = None
        elif api == "gemini":
            m = o.get("usageMetadata")
            if m:
                u = {"input_tokens": m.get("promptTokenCount"),
                     "output_tokens": m.get("candidatesTokenCount"),
                     "cache_read_input_tokens": m.get("cachedContentTokenCount"),
                     "cache_creation_input_tokens": None,
                     "reasoning_tokens": m.get("thoughtsTokenCount")}
        elif o.get("done") is True:
            u = {"input_tokens": o.get("prompt_eval_count"), "output_tokens": o.get("eval_count"),
                 "cache_read_input_tokens": None, "cache_creation_input_tokens": None,
                 "reasoning_tokens": None}
    return u


def final_usage(api, objs, incomplete):
    """Gemini repeats partial usage on every chunk: only a finished stream's
    last chunk is final, so an incomplete one has no final usage."""
    if incomplete and api == "gemini":
        return None
    if api == "anthropic" and not any(o.get("type") in ("message_delta", "message")
                                      for o in objs):
        return None
    return usage_of(api, objs)


# ---------------------------------------------------------------- transport

class SNIConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with another name as TLS server_hostname (SNI and
    certificate check) and Host header: what a client of api.openai.com sends when
    that name resolves to the mock."""

    def __init__(self, addr, port, sni, **kw):
        super().__init__(sni, port, **kw)
        self.addr = addr

    def connect(self):
        sock = socket.create_connection((self.addr, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def read_all(resp):
    """Read a response to its end; return (raw bytes, incomplete flag)."""
    parts = []
    try:
        while True:
            b = resp.read(65536)
            if not b:
                return b"".join(parts), False
            parts.append(b)
    except http.client.IncompleteRead as e:
        parts.append(e.partial or b"")
        return b"".join(parts), True
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return b"".join(parts), True


def decode(raw, encoding):
    if "gzip" not in (encoding or ""):
        return raw
    d = zlib.decompressobj(31)   # accepts a truncated stream (cut responses)
    try:
        return d.decompress(raw)
    except zlib.error:
        return b""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True, help="e.g. https://127.0.0.1:8443")
    p.add_argument("--cacert", help="CA file that signed the mock's certificate")
    p.add_argument("--path", default="/v1/chat/completions")
    p.add_argument("--model", help="default depends on the path")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--stream", default="n")
    p.add_argument("--gzip", default="n")
    p.add_argument("--keep-alive", default="n")
    p.add_argument("--include-usage", default="y", help="OpenAI stream_options.include_usage")
    p.add_argument("--size", type=int, default=0, help="x-mock-size: body about N bytes")
    p.add_argument("--cut", default="n", help="x-mock-cut: drop the stream before usage")
    p.add_argument("--header", action="append", default=[], help="extra 'Name: value'")
    p.add_argument("--api-key", help="override the fake key sent in the auth header")
    p.add_argument("--wait-before", type=float, default=0.0, help="sleep before the first request")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--connection-pause", type=float, default=0.0,
                   help="with --per-connection: seconds to wait before each new connection")
    p.add_argument("--per-connection", type=int, default=0,
                   help="with --keep-alive y: open a new connection after this many requests "
                        "(0: one connection for all)")
    p.add_argument("--sni", help="connect to the base URL's address but use this name as TLS "
                                 "server_hostname (SNI, certificate check) and Host header")
    a = p.parse_args()

    api = api_of(a.path)
    stream, keep = yes(a.stream), yes(a.keep_alive)
    model = a.model or default_model(api, a.path)
    path = request_path(a.path, api, stream)
    base = urlsplit(a.base_url)
    prefix = base.path.rstrip("/")
    tls = base.scheme == "https"
    if a.sni and not tls:
        p.error("--sni needs an https base URL")
    ctx = ssl.create_default_context(cafile=a.cacert) if tls else None
    headers = {"Content-Type": "application/json", "User-Agent": "rein-mock-py-client/1"}
    headers.update(auth_headers(api, path, a.api_key))
    if yes(a.gzip):
        headers.update({"Accept-Encoding": "gzip", "x-mock-gzip": "1"})
    if a.size:
        headers["x-mock-size"] = str(a.size)
    if yes(a.cut):
        headers["x-mock-cut"] = "1"
    if a.sni:
        headers["Host"] = a.sni
    for h in a.header:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()

    def new_connection():
        if a.sni:
            return SNIConnection(base.hostname, base.port, a.sni, timeout=a.timeout, context=ctx)
        if tls:
            return http.client.HTTPSConnection(base.hostname, base.port, timeout=a.timeout,
                                               context=ctx)
        return http.client.HTTPConnection(base.hostname, base.port, timeout=a.timeout)

    if a.wait_before > 0:
        time.sleep(a.wait_before)
    t0 = time.monotonic()
    calls, conn, connections, on_conn = [], None, 0, 0
    for i in range(max(0, a.count)):
        body = make_body(api, model, stream, yes(a.include_usage), i)
        status, raw, incomplete, rheaders, err = 0, b"", False, {}, None
        try:
            if keep:
                if conn is not None and a.per_connection > 0 and on_conn >= a.per_connection:
                    conn.close()
                    conn = None
                if conn is None:
                    if connections and a.connection_pause > 0:
                        time.sleep(a.connection_pause)
                    conn = new_connection()
                    conn.connect()
                    on_conn = 0
                    # headers and body go out as two writes: without NODELAY, Nagle and
                    # delayed ACKs add ~40 ms to every keep-alive request
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    connections += 1
                on_conn += 1
                conn.request("POST", prefix + path, body=body, headers=headers)
                resp = conn.getresponse()
                status, rheaders = resp.status, {k.lower(): v for k, v in resp.getheaders()}
                raw, incomplete = read_all(resp)
                if incomplete or resp.will_close:
                    conn.close()
                    conn = None
            elif a.sni:
                # one connection per request, as urllib does, but with the given SNI
                connections += 1
                one = new_connection()
                try:
                    one.request("POST", prefix + path, body=body,
                                headers=dict(headers, Connection="close"))
                    resp = one.getresponse()
                    status, rheaders = resp.status, {k.lower(): v for k, v in resp.getheaders()}
                    raw, incomplete = read_all(resp)
                finally:
                    one.close()
            else:
                req = urllib.request.Request(a.base_url.rstrip("/") + path, data=body,
                                             headers=headers, method="POST")
                connections += 1
                try:
                    resp = urllib.request.urlopen(req, context=ctx, timeout=a.timeout)
                except urllib.error.HTTPError as e:
                    resp = e
                status = resp.status
                rheaders = {k.lower(): v for k, v in resp.headers.items()}
                raw, incomplete = read_all(resp)
                resp.close()
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            err = f"{type(e).__name__}: {e}"[:200]
            incomplete = True
            if conn is not None:
                conn.close()
                conn = None
        data = decode(raw, rheaders.get("content-encoding"))
        objs = json_objects(data, rheaders.get("content-type", ""))
        usage = final_usage(api, objs, incomplete) if status == 200 else None
        call = {"request_id": rheaders.get("x-mock-request-id"), "status": status,
                "bytes": len(data), "wire_bytes": len(raw), "incomplete": incomplete,
                "usage": usage}
        if err:
            call["error"] = err
        calls.append(call)
    if conn is not None:
        conn.close()

    summary = {"client": "python", "transport": "http.client" if keep or a.sni else "urllib",
               "tls": tls, "pid": os.getpid(), "path": path, "model": model, "stream": stream,
               "requests": len(calls), "ok": sum(c["status"] == 200 for c in calls),
               "statuses": [c["status"] for c in calls],
               "incomplete": sum(c["incomplete"] for c in calls),
               "usage_seen": sum(c["usage"] is not None for c in calls),
               "connections": connections, "bytes": sum(c["bytes"] for c in calls),
               "elapsed_s": round(time.monotonic() - t0, 3), "calls": calls}
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
