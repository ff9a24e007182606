"""Server side of RFC 6455 WebSocket (with RFC 7692 permessage-deflate) for the mock
LLM server, Python standard library only.

Used for the OpenAI Responses API over WebSocket (`GET /v1/responses` with
`Upgrade: websocket`), which Codex tries first with its built-in OpenAI provider:
the client sends `{"type": "response.create", ...}` text messages and the server
answers each with the Responses stream events, one JSON text message per event.
"""

import base64
import hashlib
import struct
import zlib

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 64 << 20
DEFLATE_TAIL = b"\x00\x00\xff\xff"


class ProtocolError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def is_upgrade(hdrs):
    """hdrs: lower-cased header dict."""
    return "websocket" in hdrs.get("upgrade", "").lower() and \
        "upgrade" in hdrs.get("connection", "").lower()


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key.strip() + GUID).encode()).digest()).decode()


def negotiate_deflate(offer_header):
    """Pick the first permessage-deflate offer we can honour.
    Returns (response extension header or None, settings dict or None)."""
    for offer in (offer_header or "").split(","):
        parts = [p.strip() for p in offer.split(";") if p.strip()]
        if not parts or parts[0].lower() != "permessage-deflate":
            continue
        params = {}
        ok = True
        for p in parts[1:]:
            k, _, v = p.partition("=")
            k, v = k.strip().lower(), v.strip().strip('"')
            if k in params:
                ok = False
            params[k] = v
        if not ok:
            continue
        resp = ["permessage-deflate"]
        settings = {"server_no_context_takeover": False, "client_no_context_takeover": False,
                    "server_wbits": 15}
        if "server_no_context_takeover" in params:
            settings["server_no_context_takeover"] = True
            resp.append("server_no_context_takeover")
        if "client_no_context_takeover" in params:
            settings["client_no_context_takeover"] = True
            resp.append("client_no_context_takeover")
        if "server_max_window_bits" in params:
            try:
                bits = int(params["server_max_window_bits"])
            except ValueError:
                continue
            if not 8 <= bits <= 15:
                continue
            settings["server_wbits"] = max(9, bits)   # zlib's raw deflate wants >= 9
            resp.append(f"server_max_window_bits={settings['server_wbits']}")
        # client_max_window_bits (with or without a value) needs no answer: our
        # inflater uses a 32 KiB window, which decodes any smaller window too.
        unknown = set(params) - {"server_no_context_takeover", "client_no_context_takeover",
                                 "server_max_window_bits", "client_max_window_bits"}
        if unknown:
            continue
        return "; ".join(resp), settings
    return None, None


class WebSocket:
    """One server-side WebSocket on buffered file objects (rfile/wfile of the
    HTTP handler, so bytes already read by the HTTP parser are not lost)."""

    def __init__(self, rfile, wfile, deflate=None):
        self.rfile, self.wfile = rfile, wfile
        self.deflate = deflate
        self.inflater = zlib.decompressobj(-15) if deflate else None
        self.deflater = zlib.compressobj(6, zlib.DEFLATED, -deflate["server_wbits"]) \
            if deflate else None
        self.closed = False

    # -------------------------------------------------------------- reading

    def _read(self, n):
        data = self.rfile.read(n)
        if data is None or len(data) < n:
            raise EOFError("connection closed")
        return data

    def _frame(self):
        b0, b1 = self._read(2)
        fin, rsv1, rsv23, opcode = b0 & 0x80, b0 & 0x40, b0 & 0x30, b0 & 0x0F
        masked, length = b1 & 0x80, b1 & 0x7F
        if rsv23 or (rsv1 and not self.deflate):
            raise ProtocolError(1002, "reserved bits set")
        if not masked:
            raise ProtocolError(1002, "client frame not masked")
        if length == 126:
            length = struct.unpack("!H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read(8))[0]
        if length > MAX_MESSAGE:
            raise ProtocolError(1009, "frame too big")
        mask = self._read(4)
        payload = self._read(length)
        if length:
            n = int.from_bytes(payload, "little") ^ int.from_bytes((mask * (length // 4 + 1))[:length], "little")
            payload = n.to_bytes(length, "little")
        return bool(fin), bool(rsv1), opcode, payload

    def recv(self):
        """Return (opcode, payload) of the next data message (TEXT payload as str),
        answering pings and closes on the way; None when the peer closed."""
        parts, first_op, compressed = [], None, False
        while True:
            fin, rsv1, opcode, payload = self._frame()
            if opcode >= 0x8:                       # control frames: never fragmented
                if not fin or len(payload) > 125:
                    raise ProtocolError(1002, "bad control frame")
                if opcode == OP_PING:
                    self._send(OP_PONG, payload, compress=False)
                elif opcode == OP_CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1000
                    self.close(code if code in (1000, 1001) else 1000)
                    return None
                continue
            if first_op is None:
                if opcode == OP_CONT:
                    raise ProtocolError(1002, "continuation without a start")
                first_op, compressed = opcode, rsv1
            elif opcode != OP_CONT:
                raise ProtocolError(1002, "new message inside a fragmented one")
            parts.append(payload)
            if sum(map(len, parts)) > MAX_MESSAGE:
                raise ProtocolError(1009, "message too big")
            if fin:
                break
        data = b"".join(parts)
        if compressed:
            data = self.inflater.decompress(data + DEFLATE_TAIL, MAX_MESSAGE)
            if self.deflate["client_no_context_takeover"]:
                self.inflater = zlib.decompressobj(-15)
        if first_op == OP_TEXT:
            return OP_TEXT, data.decode("utf-8")
        return first_op, data

    # -------------------------------------------------------------- writing

    def _send(self, opcode, payload, compress=True):
        rsv1 = 0
        if compress and self.deflate and opcode in (OP_TEXT, OP_BINARY):
            payload = self.deflater.compress(payload) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
            if payload.endswith(DEFLATE_TAIL):
                payload = payload[:-4]
            if self.deflate["server_no_context_takeover"]:
                self.deflater = zlib.compressobj(6, zlib.DEFLATED, -self.deflate["server_wbits"])
            rsv1 = 0x40
        n = len(payload)
        head = bytes([0x80 | rsv1 | opcode])
        if n < 126:
            head += bytes([n])
        elif n < 1 << 16:
            head += bytes([126]) + struct.pack("!H", n)
        else:
            head += bytes([127]) + struct.pack("!Q", n)
        self.wfile.write(head + payload)   # one write: one TLS record per small message
        self.wfile.flush()

    def send_text(self, text):
        self._send(OP_TEXT, text.encode("utf-8"))

    def close(self, code=1000, reason=""):
        if self.closed:
            return
        self.closed = True
        try:
            self._send(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120], compress=False)
        except OSError:
            pass
