"""A hostile provider of our own, on loopback: each path answers the way a broken or malicious server might.

``HostileServer().start()`` serves ``routes`` (path -> behaviour); a behaviour is a function taking the request
handler. The server counts the requests and the body bytes it managed to send, so a test can tell that the app
stopped reading, or never came at all. ``echo_encodings`` and ``decoded_views`` are for providers that echo a key
back in an encoding.
"""
from __future__ import annotations

import base64
import binascii
import html
import io
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def png_bytes(size: tuple[int, int] = (64, 64), color=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _serve(self) -> None:
        server: HostileServer = self.server.hostile
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        with server.lock:
            server.requests.append((self.command, self.path, dict(self.headers)))
        behaviour = server.routes.get(path)
        if behaviour is None:
            self.send_error(404)
            return
        try:
            behaviour(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up: that is what the caps are for

    do_GET = do_POST = do_CONNECT = _serve

    def count(self, n: int) -> None:
        with self.server.hostile.lock:
            self.server.hostile.body_bytes_sent += n


class HostileServer:
    def __init__(self) -> None:
        self.routes: dict = {}
        self.requests: list = []
        self.body_bytes_sent = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "HostileServer":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.hostile = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for _method, p, _h in self.requests if p.split("?", 1)[0] == path)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ------------------------------------------------------------------------------- behaviours

def serve_bytes(data: bytes, content_type: str = "image/png", headers: dict | None = None):
    def behaviour(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data)
        h.count(len(data))
    return behaviour


def serve_json(obj, status: int = 200, headers: dict | None = None):
    return serve_bytes(json.dumps(obj).encode(), "application/json", headers) if status == 200 else _json_status(obj, status, headers)


def _json_status(obj, status: int, headers: dict | None):
    data = json.dumps(obj).encode()

    def behaviour(h: _Handler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data)
    return behaviour


def redirect(location: str, status: int = 302):
    def behaviour(h: _Handler) -> None:
        h.send_response(status)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return behaviour


def huge(total: int, declare_length: bool):
    """``total`` bytes of a PNG-looking body, written a megabyte at a time for as long as the client reads."""
    chunk = b"\x89PNG\r\n\x1a\n" + bytes(1024 * 1024 - 8)

    def behaviour(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        if declare_length:
            h.send_header("Content-Length", str(total))
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        sent = 0
        while sent < total:
            h.wfile.write(chunk)
            h.count(len(chunk))
            sent += len(chunk)
        h.close_connection = True
    return behaviour


def drip(interval_s: float, total: int = 10_000):
    """A valid-looking reply whose body arrives one byte every ``interval_s`` seconds."""
    def behaviour(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        h.send_header("Content-Length", str(total))
        h.end_headers()
        for _ in range(total):
            h.wfile.write(b"\x00")
            h.wfile.flush()
            h.count(1)
            time.sleep(interval_s)
    return behaviour


def chat_stream(text: str, model: str = "gpt-5.4-mini"):
    """A streamed chat completion (server-sent events) whose reply is ``text``, in a few pieces."""
    def behaviour(h: _Handler) -> None:
        pieces = [text[i:i + 20] for i in range(0, len(text), 20)] or [""]
        events = [{"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}]}
                  for piece in pieces]
        events.append({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        events.append({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 20, "total_tokens": 25}})
        body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return behaviour


# ------------------------------------------------------------------------------- echoing a key in an encoding

def echo_encodings(key: str) -> dict[str, str]:
    """``key`` the ways a hostile provider might echo it besides plain text: percent-encoded (every byte, or as a
    query string would, ``+`` for a space), in base64 / base64url (a bearer token, ``Basic base64(user:key)``, a
    piece of it), JSON-escaped as raw text (``\\u00xx``) and as HTML character references."""
    b64 = lambda raw: base64.b64encode(raw.encode()).decode()  # noqa: E731
    return {
        "percent, every byte": "".join(f"%{b:02X}" for b in key.encode()),
        "query string": "https://api.example.test/v1/x?api_key=" + urllib.parse.quote_plus(key) + "&n=1",
        "percent, a piece": urllib.parse.quote(key[4:20], safe=""),
        "percent, twice (a URL in a query string)": "next=" + urllib.parse.quote(
            "https://x.test/?k=" + "".join(f"%{b:02X}" for b in key.encode()), safe=""),
        "bearer base64": "Authorization: Bearer " + b64(key),
        "basic user:key": "Authorization: Basic " + b64(f"studio:{key}"),
        "base64url, no padding": base64.urlsafe_b64encode(f"~~{key}??".encode()).decode().rstrip("="),
        "base64 of a JSON body": b64(json.dumps({"api_key": key, "n": 1})),
        "base64 in a URL": "Basic%20" + urllib.parse.quote(b64(f"u:{key}"), safe=""),
        "json escaped": "".join(f"\\u{ord(c):04x}" for c in key),
        "html references": "".join(f"&#{ord(c)};" for c in key[:16]) + "".join(f"&#x{ord(c):x};" for c in key[16:]),
        "hex": "key=" + key.encode().hex(),
        "hex, upper case, a piece": "0x" + key[3:19].encode().hex().upper(),
        "base64 twice (a token inside a token)": "Bearer " + b64(b64(f"u:{key}")),
    }


def _base64_readings(text: str) -> list[str]:
    """Every base64-looking run of ``text`` decoded from each of its first 4 characters."""
    readings = []
    for run in re.findall(r"[A-Za-z0-9+/_-]{11,}", text):
        run = run.replace("-", "+").replace("_", "/")
        for shift in range(4):
            part = run[shift:]
            part = part[:-1] if len(part) % 4 == 1 else part + "=" * (-len(part) % 4)
            try:
                readings.append(base64.b64decode(part).decode("latin-1"))
            except (binascii.Error, ValueError):
                pass
    return readings


def decoded_views(text: str) -> list[str]:
    """``text`` and every reading of it a person could get back a key from: percent-decoded, JSON- and
    HTML-unescaped, hex-decoded, and every base64-looking run decoded from each of its first 4 characters, once and
    twice (brute force, unlike the app's redaction, so the tests do not share its shortcut)."""
    views = [text, urllib.parse.unquote(text), urllib.parse.unquote_plus(text), html.unescape(text),
             urllib.parse.unquote(urllib.parse.unquote(text)),
             re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)]
    for run in re.findall(r"[0-9A-Fa-f]{16,}", text):  # hex, from either nibble
        for shift in range(2):
            part = run[shift:len(run) - (len(run) - shift) % 2]
            views.append(bytes.fromhex(part).decode("latin-1"))
    once = [reading for view in views for reading in _base64_readings(view)]
    views += once + [reading for view in once for reading in _base64_readings(view)]  # base64 inside base64
    return views
