#!/usr/bin/env python3
"""Mock LLM API server for Rein's end-to-end tests.

Speaks the OpenAI (chat + responses), Azure OpenAI, DeepSeek/Groq/Mistral-style,
Anthropic, Gemini and Ollama wire formats over TLS or plain HTTP/1.1, with
keep-alive. Token numbers are fresh per request and unpredictable to the test;
every request is appended to a JSONL ledger holding the numbers exactly as sent,
which the test compares to what the sensor reported. See README.md.
"""

import argparse
import hashlib
import json
import math
import os
import random
import re
import signal
import socket
import ssl
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import providers  # noqa: E402
import websocket  # noqa: E402
from clientpid import find_client_pid  # noqa: E402

MAX_SIZE_OPTION = 64 << 20      # cap for x-mock-size
MAX_DELAY_MS = 2000             # cap for x-mock-delay-ms per piece
MAX_TOTAL_DELAY_S = 20.0        # cap for all delays of one response
PAD_DELTA_CHARS = 4096          # filler characters per streamed delta
FLAVOURS = ("openai", "azure", "deepseek", "groq", "mistral")

GEMINI_PATH = re.compile(r"^/(v1beta|v1)/models/([^/:]+):(generateContent|streamGenerateContent)$")
AZURE_PATH = re.compile(r"^/openai/deployments/([^/]+)/(chat/completions|responses)$")


SECRET_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie",
                  "proxy-authorization")
VERBOSE_BODY = 1500


def mask_secret(value):
    """Keep the shape of a credential header, never its value."""
    return value[:10] + "..." + f"({len(value)} chars)" if len(value) > 10 else "***"


def log(msg):
    print(f"mock-llm: {msg}", file=sys.stderr, flush=True)


class Ledger:
    """Append-only JSONL; each line is one write() on an O_APPEND fd, so lines
    never interleave and a reader sees a line as soon as it is written."""

    def __init__(self, path):
        self.fd = None
        if path:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.lock = threading.Lock()

    def write(self, record):
        if self.fd is None:
            return
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self.lock:
            os.write(self.fd, line)


def take_unique(taken, v):
    """The smallest value >= v not taken yet, now taken. `taken` maps each taken value to a
    value at or below the next free one (union-find with path compression), so a long run,
    whose draws fill their range, costs O(1) per draw instead of a walk over every earlier
    one: the walk made the mock slower request by request and skewed every benchmark that
    compares a later loop with an earlier one."""
    path = []
    while v in taken:
        path.append(v)
        v = taken[v]
    for p in path:
        taken[p] = v + 1
    taken[v] = v + 1
    return v


class App:
    """State shared by all connections: counters, token draws, filler text."""

    def __init__(self, args):
        self.args = args
        self.seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(8), "big")
        self.run_id = hashlib.sha256(f"run:{self.seed}:{time.time()}".encode()).hexdigest()[:8]
        self.ledger = Ledger(args.ledger)
        self.lock = threading.Lock()
        self.seq = 0
        self.used_in = {}
        self.used_out = {}
        words = ("token", "usage", "stream", "model", "agent", "prompt", "cache", "reply",
                 "sensor", "probe", "record", "ledger", "mock", "alpha", "beta", "gamma",
                 "delta", "kernel", "socket", "buffer", "chunk", "event", "budget", "cost")
        r = random.Random(self.seed ^ 0x5EED)
        block = []
        size = 0
        while size < 65536:
            w = r.choice(words)
            block.append(w)
            size += len(w) + 1
        self.filler_block = " ".join(block)

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def filler(self, n):
        reps = n // len(self.filler_block) + 1
        return (self.filler_block * reps)[:n]

    def draw(self, seq, body_len, provider):
        """Numbers derived from the secret seed, the counter and the body
        length; the main input and output counts never repeat within a run."""
        h = hashlib.sha256(f"{self.seed}:{seq}:{body_len}".encode()).digest()
        r = random.Random(h)
        if provider == "anthropic":
            big_in = r.randint(3, 5000)
        else:
            big_in = body_len // 4 + r.randint(100, 40000)
        out = r.randint(16, 4000)
        with self.lock:
            big_in = take_unique(self.used_in, big_in)
            out = take_unique(self.used_out, out)
        return providers.Numbers(
            big_in=big_in, cached=r.randint(1, max(1, big_in // 2)), out=out,
            reasoning=r.randint(1, max(1, out // 2)), cache_write=r.randint(1, 30000),
            cache_read=r.randint(1, 60000), thoughts=r.randint(1, 3000),
            variant=r.getrandbits(8))


def route(method, path, query, headers, body):
    """Return (provider, api, model_from_path, stream_override, gemini_sse)."""
    m = GEMINI_PATH.match(path)
    if m:
        return "gemini", "generate_content", unquote(m.group(2)), \
            m.group(3) == "streamGenerateContent", query.get("alt", [""])[0] == "sse"
    m = AZURE_PATH.match(path)
    if m:
        api = "chat_completions" if m.group(2) == "chat/completions" else "responses"
        return "azure", api, unquote(m.group(1)), None, False
    if path in ("/api/chat", "/api/generate"):
        return "ollama", "ollama_" + path.rsplit("/", 1)[1], None, None, False
    if path == "/v1/messages":
        return "anthropic", "messages", None, None, False
    if path == "/v1/responses":
        return "openai", "responses", None, None, False
    if path == "/v1/models":
        return "openai", "models", None, None, False
    flavour = None
    if path == "/v1/chat/completions":
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
        flavour = "openai"
        if model.startswith("deepseek"):
            flavour = "deepseek"
        elif model.startswith(("mistral", "codestral", "ministral")):
            flavour = "mistral"
    elif path == "/chat/completions":
        flavour = "deepseek"
    elif path == "/openai/v1/chat/completions":
        flavour = "groq"
    if flavour:
        wanted = headers.get("x-mock-provider", "").strip().lower()
        if wanted in FLAVOURS:
            flavour = wanted
        return flavour, "chat_completions", None, None, False
    return "unknown", None, None, None, False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rein-mock-llm/1"
    sys_version = ""
    timeout = 30   # idle keep-alive connections are dropped after this

    def setup(self):
        super().setup()
        self.client_pid = None
        self.pid_looked_up = False
        self.cut_done = False

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.app.args.verbose:
            log(f"{self.client_address[0]}:{self.client_address[1]} {fmt % args}")

    def do_POST(self):
        self.serve("POST")

    def do_GET(self):
        if websocket.is_upgrade({k.lower(): v for k, v in self.headers.items()}):
            self.serve_websocket()
            return
        self.serve("GET")

    def do_PUT(self):
        self.serve("PUT")

    def do_DELETE(self):
        self.serve("DELETE")

    # ------------------------------------------------------------ request

    def read_body(self, limit):
        """Return (bytes, error_status). Supports Content-Length and chunked."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(1026)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return b"", 400
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out), None
                if len(out) + size > limit:
                    return b"", 413
                out += self.rfile.read(size)
                self.rfile.readline(8)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b"", None
        try:
            n = int(cl)
        except ValueError:
            return b"", 400
        if n < 0:
            return b"", 400
        if n > limit:
            return b"", 413
        return self.rfile.read(n), None

    def serve(self, method):
        app = self.server.app
        seq = app.next_seq()
        request_id = f"req_{app.run_id}_{seq:06d}"
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        raw, err = self.read_body(app.args.max_body)
        if err:
            self.close_connection = True
        body = None
        if raw and not err:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        if app.args.verbose:
            self.log_request_detail(method, hdrs, raw)
        provider, api, path_model, stream_override, gemini_sse = route(
            method, path, query, hdrs, body)
        model = path_model or (str(body.get("model", "")) if isinstance(body, dict) else "")

        rec = self.new_record(seq, request_id, provider, api, path, model, hdrs)

        err_model = providers.ERROR_MODEL.match(model or "")
        if err:
            plan = providers.error_plan(provider, err, "request body rejected by mock", model)
        elif api is None:
            plan = providers.error_plan(provider, 404, f"unknown path {path}", model)
        elif api == "models":
            plan = providers.models_plan(self.ctx_stub(seq, request_id)) if method == "GET" \
                else providers.error_plan(provider, 405, "use GET", model)
        elif method != "POST":
            plan = providers.error_plan(provider, 405, "use POST", model)
        elif not isinstance(body, dict):
            plan = providers.error_plan(provider, 400, "body is not a JSON object", model)
        elif err_model:
            status = int(err_model.group(1))
            plan = providers.error_plan(provider, status, f"mock error {status} for testing",
                                        model)
        else:
            if stream_override is not None:
                stream = stream_override
            elif provider == "ollama":
                stream = body.get("stream", True) is not False
            else:
                stream = body.get("stream") is True
            opts = body.get("stream_options")
            include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
            ctx = providers.Ctx(seq=seq, request_id=request_id, provider=provider, api=api,
                                model=model, body=body, stream=stream,
                                include_usage=include_usage, gemini_sse=gemini_sse,
                                nums=app.draw(seq, len(raw), provider))
            ctx.tool_path = hdrs.get("x-mock-tool-path") or None
            ctx.extra_text = hdrs.get("x-mock-text") or None
            plan = self.build_padded(ctx, self.int_header(hdrs, "x-mock-size", MAX_SIZE_OPTION))
        rec["stream"] = plan.stream
        rec["status"] = plan.status
        rec["response_model"] = plan.response_model
        self.send_plan(plan, rec, hdrs)

    def lookup_pid(self, hdrs):
        """The pid of the client. Direct connections: the owner of the peer socket,
        looked up once per connection. Through the HTTP/2 front (nghttpx adds
        `x-mock-front: HOST:PORT` to every request it forwards), the peer is nghttpx,
        so look for the one process connected to the front port, per request."""
        app = self.server.app
        if app.args.no_client_pid:
            return None, None
        front = hdrs.get("x-mock-front")
        if front and self.server.kind == "plain":
            try:
                pids = front_client_pids(int(front.rsplit(":", 1)[1]))
            except (ValueError, OSError):
                pids = []
            return (pids[0] if len(pids) == 1 else None), pids
        if not self.pid_looked_up:
            self.pid_looked_up = True
            try:
                self.client_pid = find_client_pid(self.client_address[1],
                                                  self.server.server_address[1])
            except Exception:  # best effort only
                self.client_pid = None
        return self.client_pid, None

    def new_record(self, seq, request_id, provider, api, path, model, hdrs,
                   transport=None):
        pid, front_pids = self.lookup_pid(hdrs)
        via = hdrs.get("via", "")
        proxied = "x-mock-front" in hdrs
        if transport is None:
            transport = "http1"
            if proxied and via.split(" ", 1)[0] in ("2", "2.0", "HTTP/2"):
                transport = "h2"
        rec = {"seq": seq, "ts": round(time.time(), 6), "request_id": request_id,
               "provider": provider, "api": api, "path": path, "model": model,
               "response_model": None, "stream": False, "status": None,
               "input_tokens": None, "output_tokens": None, "cache_read_input_tokens": None,
               "cache_creation_input_tokens": None, "reasoning_tokens": None,
               "total_tokens": None, "input_includes_cache": None,
               "output_includes_reasoning": None, "usage_sent": False, "partial_usage": None,
               "cut": False, "gzip": hdrs.get("x-mock-gzip") == "1", "body_bytes": 0,
               "listener": self.server.kind, "client_port": self.client_address[1],
               "client_pid": pid, "transport": transport, "proxied": proxied}
        if proxied:
            rec["proxy_pid"] = self.client_pid_of_peer()
            rec["front_client_pids"] = front_pids
        return rec

    def client_pid_of_peer(self):
        try:
            return find_client_pid(self.client_address[1], self.server.server_address[1])
        except Exception:
            return None

    # ------------------------------------------------------------ WebSocket

    def serve_websocket(self):
        """OpenAI Responses API over WebSocket: GET /v1/responses (or the Azure
        deployment path) upgraded; each `response.create` text message is one call."""
        app = self.server.app
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        path = urlsplit(self.path).path
        self.close_connection = True
        if app.args.verbose:
            self.log_request_detail("GET", hdrs, b"")
        m = AZURE_PATH.match(path)
        if path != "/v1/responses" and not (m and m.group(2) == "responses"):
            self.ws_refuse(404, f"no WebSocket endpoint at {path}")
            return
        key = hdrs.get("sec-websocket-key", "")
        if hdrs.get("sec-websocket-version", "").strip() != "13" or len(key.strip()) != 24:
            self.ws_refuse(400, "bad WebSocket handshake")
            return
        ext, deflate = websocket.negotiate_deflate(hdrs.get("sec-websocket-extensions"))
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", websocket.accept_key(key))
        if ext:
            self.send_header("Sec-WebSocket-Extensions", ext)
        self.send_header("x-request-id", f"ws_{app.run_id}_{self.client_address[1]}")
        self.end_headers()
        self.wfile.flush()
        ws = websocket.WebSocket(self.rfile, self.wfile, deflate)
        provider = "azure" if m else "openai"
        try:
            while True:
                msg = ws.recv()
                if msg is None:
                    return
                op, data = msg
                if op != websocket.OP_TEXT:
                    continue
                if app.args.verbose:
                    log(f"  ws message ({len(data)} chars): {data[:VERBOSE_BODY]}")
                try:
                    body = json.loads(data)
                except ValueError:
                    body = None
                if app.args.verbose and isinstance(body, dict):
                    small = {k: v for k, v in body.items()
                             if k not in ("input", "instructions", "tools")}
                    log(f"  ws message fields: {json.dumps(small)[:VERBOSE_BODY]}")
                if not isinstance(body, dict) or body.get("type") != "response.create":
                    ws.send_text(providers.dumps({"type": "error", "status": 400, "error": {
                        "type": "invalid_request_error", "code": "unsupported_message",
                        "message": "the mock answers only response.create"}}))
                    continue
                self.ws_response(ws, body, len(data.encode()), path, provider, hdrs,
                                 deflate is not None, m.group(1) if m else None)
        except websocket.ProtocolError as e:
            ws.close(e.code, str(e))
        except (EOFError, OSError, ssl.SSLError, UnicodeDecodeError, zlib.error) as e:
            if app.args.verbose:
                log(f"websocket {self.client_address[1]} ended: {e!r}")

    def ws_refuse(self, status, message):
        body = providers.dumps({"error": {"message": message, "type": "invalid_request_error",
                                          "param": None, "code": None}}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def ws_response(self, ws, body, nbytes, path, provider, hdrs, deflated, deployment):
        app = self.server.app
        seq = app.next_seq()
        request_id = f"req_{app.run_id}_{seq:06d}"
        model = deployment or str(body.get("model", ""))
        rec = self.new_record(seq, request_id, provider, "responses", path, model, hdrs,
                              transport="websocket")
        rec["ws_deflate"] = deflated
        rec["stream"] = True
        err_model = providers.ERROR_MODEL.match(model)
        if err_model:
            status = int(err_model.group(1))
            rec["status"] = status
            rec["response_model"] = model
            app.ledger.write(rec)
            ws.send_text(providers.dumps({"type": "error", "status": status, "error": {
                "type": "rate_limit_exceeded" if status == 429 else "server_error",
                "code": "rate_limit_exceeded" if status == 429 else None,
                "message": f"mock error {status} for testing"}}))
            return
        ctx = providers.Ctx(seq=seq, request_id=request_id, provider=provider, api="responses",
                            model=model, body=body, stream=True, include_usage=False,
                            gemini_sse=False, nums=app.draw(seq, nbytes, provider))
        if body.get("generate") is False:
            # Codex's prewarm: `generate: false` only opens the response (no model
            # output, zero usage). Not an LLM call: ledger `prewarm: true`.
            plan = providers.build_responses_prewarm(ctx)
            rec["prewarm"] = True
        else:
            plan = self.build_padded(ctx, self.int_header(hdrs, "x-mock-size", MAX_SIZE_OPTION))
        rec["status"] = 200
        rec["response_model"] = plan.response_model
        rec.update(plan.usage)
        rec["usage_sent"] = True
        texts = [providers.dumps(e) for e in plan.events]
        rec["body_bytes"] = sum(len(t.encode()) for t in texts)
        written = False
        try:
            for i, t in enumerate(texts):
                if i == len(texts) - 1:
                    app.ledger.write(rec)   # before the last message, as for HTTP
                    written = True
                ws.send_text(t)
        finally:
            if not written:
                rec["usage_sent"] = False
                rec["client_gone"] = "websocket write failed"
                app.ledger.write(rec)

    def log_request_detail(self, method, hdrs, raw):
        """--verbose: the request line, headers (credentials masked) and the
        start of the body, to see what a real client sends."""
        shown = {k: (mask_secret(v) if k in SECRET_HEADERS else v) for k, v in hdrs.items()}
        log(f"{self.server.kind} {self.client_address[1]} {method} {self.path} "
            f"{self.request_version} headers={json.dumps(shown)}")
        if raw:
            log(f"  body ({len(raw)} bytes): {raw[:VERBOSE_BODY].decode('utf-8', 'replace')}")

    @staticmethod
    def int_header(hdrs, name, cap):
        try:
            return max(0, min(cap, int(hdrs.get(name, "0"))))
        except ValueError:
            return 0

    @staticmethod
    def ctx_stub(seq, request_id):
        return providers.Ctx(seq=seq, request_id=request_id, provider="openai", api="models",
                             model="", body={}, stream=False, include_usage=False,
                             gemini_sse=False, nums=None)

    def build_padded(self, ctx, target):
        """Build the plan, padding the assistant text so the (uncompressed)
        body comes out at about `target` bytes."""
        build = providers.BUILDERS[ctx.api]
        base = ["Hello", " from", " the Rein", " mock", " LLM", f" (call {ctx.seq})."]
        text = getattr(ctx, "extra_text", None)  # x-mock-text: in 5-character deltas
        if text:
            text = " " + text[:4096]
            base += [text[i:i + 5] for i in range(0, len(text), 5)]
        plan = build(ctx, base)
        s0 = sum(map(len, plan.pieces))
        if target <= s0:
            return plan
        app = self.server.app
        if not ctx.stream:
            return build(ctx, base + [app.filler(target - s0)])
        overhead = sum(map(len, build(ctx, base + ["x"]).pieces)) - s0 - 1
        need = target - s0
        k = max(1, math.ceil(need / (PAD_DELTA_CHARS + overhead)))
        chars = max(k, need - k * overhead)
        text = app.filler(chars)
        step = math.ceil(chars / k)
        extra = [text[i:i + step] for i in range(0, chars, step)]
        return build(ctx, base + extra)

    # ------------------------------------------------------------ response

    def send_plan(self, plan, rec, hdrs):
        app = self.server.app
        pieces = plan.pieces
        rec["body_bytes"] = sum(map(len, pieces))
        cut_at = None
        if hdrs.get("x-mock-cut") == "1" and plan.status == 200:
            cut_at = plan.usage_index
            if cut_at is None and plan.stream:
                cut_at = len(pieces) - 1
        if plan.usage is not None:
            for k in ("input_includes_cache", "output_includes_reasoning"):
                rec[k] = plan.usage[k]
            if plan.usage_index is not None and cut_at is None:
                rec.update(plan.usage)
                rec["usage_sent"] = True
        if cut_at is not None:
            rec["cut"] = True
            rec["body_bytes"] = sum(map(len, pieces[:cut_at]))
            early = [u for i, u in plan.partial if i < cut_at]
            rec["partial_usage"] = early[-1] if early else None

        wire = pieces
        if rec["gzip"]:
            z = zlib.compressobj(6, zlib.DEFLATED, 31)
            wire = [z.compress(p) + z.flush(zlib.Z_SYNC_FLUSH) for p in pieces]
            wire[-1] += z.flush(zlib.Z_FINISH)
        http10 = self.request_version == "HTTP/1.0"
        chunked = plan.stream and not http10
        if plan.stream and http10:
            self.close_connection = True

        delay = self.int_header(hdrs, "x-mock-delay-ms", MAX_DELAY_MS) / 1000.0
        budget = MAX_TOTAL_DELAY_S
        written = False
        try:
            self.send_response(plan.status)
            for k, v in plan.headers:
                self.send_header(k, v)
            self.send_header("x-mock-request-id", rec["request_id"])
            if rec["gzip"]:
                self.send_header("Content-Encoding", "gzip")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            elif not (plan.stream and http10):
                self.send_header("Content-Length", str(sum(map(len, wire))))
            if plan.stream:
                self.send_header("Cache-Control", "no-cache")
            if cut_at is not None or self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            last = len(wire) - 1 if cut_at is None else cut_at
            for i, data in enumerate(wire):
                if i == last:
                    # The line goes out before the final bytes, so a client
                    # holding its whole response always finds its line.
                    app.ledger.write(rec)
                    written = True
                    if cut_at is not None:
                        self.cut_connection()
                        return
                out = b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
                if chunked and i == last:
                    out += b"0\r\n\r\n"
                self.wfile.write(out)
                if delay and i != last and budget > 0:
                    time.sleep(min(delay, budget))
                    budget -= delay
        except (OSError, ssl.SSLError) as e:
            self.close_connection = True
            if not written:
                rec["usage_sent"] = False
                rec["client_gone"] = str(e)[:120]
                app.ledger.write(rec)

    def cut_connection(self):
        """Drop the connection mid-response with no TLS close_notify and no
        final chunk: what a killed upstream or a network cut looks like."""
        self.close_connection = True
        self.cut_done = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, family, app, ssl_ctx, kind):
        self.address_family = family
        self.app = app
        self.ssl_ctx = ssl_ctx
        self.kind = kind
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # Every piece of a response is its own small write: without TCP_NODELAY, Nagle holds
        # the second one until the client's delayed ACK (~40 ms on loopback).
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.ssl_ctx is None:
            Handler(request, client_address, self)
            return
        request.settimeout(15)
        delay = self.app.args.handshake_delay_ms
        if delay > 0:
            # a real network round trip: the client's ClientHello waits unanswered
            time.sleep(delay / 1000.0)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            if self.app.args.verbose:
                log(f"TLS handshake from {client_address[1]} failed: {e}")
            return
        handler = None
        try:
            handler = Handler(tls, client_address, self)
        finally:
            if handler is None or not handler.cut_done:
                # Orderly close with close_notify; never wait long for the peer's.
                try:
                    tls.settimeout(0.3)
                    tls.unwrap()
                except (OSError, ValueError, ssl.SSLError):
                    pass
            tls.close()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if self.app.args.verbose or not isinstance(exc, (OSError, ssl.SSLError)):
            log(f"error serving {client_address}: {exc!r}")


def front_client_pids(front_port):
    """Pids (lowest owner per socket) of the processes with an ESTABLISHED TCP
    connection to local port `front_port` (the nghttpx front), sorted."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    cols = line.split()
                    if len(cols) >= 10 and cols[3] == "01" and \
                            int(cols[2].rsplit(":", 1)[1], 16) == front_port:
                        inodes.add(f"socket:[{cols[9]}]")
        except OSError:
            continue
    owners = {}
    for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        if pid == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link in inodes and link not in owners:
                owners[link] = pid
    return sorted(set(owners.values()))


def make_ssl_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def parse_args(argv):
    p = argparse.ArgumentParser(description="Mock LLM API server for Rein e2e tests")
    p.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1 or ::1)")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--cert", help="server certificate (PEM); with --key enables TLS")
    p.add_argument("--key", help="server private key (PEM)")
    p.add_argument("--also-plain", action="store_true",
                   help="with TLS, also open a plain-HTTP listener (e.g. for Ollama)")
    p.add_argument("--plain-port", type=int, default=0, help="port for --also-plain")
    p.add_argument("--ledger", help="append one JSON line per request here")
    p.add_argument("--port-file", help="write the ready JSON line here (atomically)")
    p.add_argument("--seed", type=int, help="fix the token-number seed (default: random)")
    p.add_argument("--max-seconds", type=float, default=600, help="stop after this long")
    p.add_argument("--max-body", type=int, default=16 << 20, help="largest request body")
    p.add_argument("--no-client-pid", action="store_true", help="skip the /proc pid lookup")
    p.add_argument("--handshake-delay-ms", type=float, default=0,
                   help="TLS listener: wait this long after accept before answering the "
                        "ClientHello (emulates a network round trip)")
    p.add_argument("--verbose", action="store_true", help="log requests to stderr")
    a = p.parse_args(argv)
    if bool(a.cert) != bool(a.key):
        p.error("--cert and --key go together")
    if a.handshake_delay_ms < 0:
        p.error("--handshake-delay-ms must be >= 0")
    if a.also_plain and not a.cert:
        p.error("--also-plain needs TLS (without TLS the main listener is plain already)")
    return a


def main(argv=None):
    args = parse_args(argv)
    app = App(args)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    ssl_ctx = make_ssl_context(args.cert, args.key) if args.cert else None
    servers = [MockServer((args.host, args.port), family, app, ssl_ctx,
                          "tls" if ssl_ctx else "plain")]
    if args.also_plain:
        servers.append(MockServer((args.host, args.plain_port), family, app, None, "plain"))
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()

    ready = {"port": servers[0].server_address[1], "tls": ssl_ctx is not None,
             "host": args.host, "pid": os.getpid()}
    if args.also_plain:
        ready["plain_port"] = servers[1].server_address[1]
    line = json.dumps(ready)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(line + "\n")
        os.replace(tmp, args.port_file)
    print(line, flush=True)

    stop = threading.Event()
    reason = ["max-seconds"]

    def on_signal(signum, _frame):
        reason[0] = signal.Signals(signum).name
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    deadline = time.monotonic() + args.max_seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        stop.wait(min(left, 0.5))
    for s in servers:
        s.shutdown()
        s.server_close()
    log(f"stopped ({reason[0]}) after {app.seq} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
