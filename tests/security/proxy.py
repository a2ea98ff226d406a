"""A tiny forward proxy of our own, on loopback, that insists on ``Proxy-Authorization``.

``AuthProxy(user, password).start()`` listens on 127.0.0.1; ``.url`` is ``http://user:password@127.0.0.1:port``
(the password percent-encoded, as a person writes it into HTTPS_PROXY). Plain-http requests (absolute URI) are
forwarded, CONNECT is tunnelled; a request without the right Basic credentials gets 407 and goes nowhere. Every
request is recorded as ``(method, target, authorised)``, so a test sees which calls went through the proxy.
"""
from __future__ import annotations

import base64
import select
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _authorised(self) -> bool:
        proxy: AuthProxy = self.server.proxy
        expected = "Basic " + base64.b64encode(f"{proxy.user}:{proxy.password}".encode()).decode()
        ok = self.headers.get("Proxy-Authorization") == expected
        with proxy.lock:
            proxy.requests.append((self.command, self.path, ok))
        if not ok:
            self.send_response(407)
            self.send_header("Proxy-Authenticate", 'Basic realm="test proxy"')
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
        return ok

    def do_CONNECT(self) -> None:  # noqa: N802 (http.server's naming)
        if not self._authorised():
            return
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError:
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self._relay(upstream)

    def _forward(self) -> None:
        if not self._authorised():
            return
        target = urllib.parse.urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self.send_error(400)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            upstream = socket.create_connection((target.hostname, target.port or 80), timeout=10)
        except OSError:
            self.send_error(502)
            return
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        lines = [f"{self.command} {path} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()
                  if k.lower() not in ("proxy-authorization", "proxy-connection", "connection", "keep-alive")]
        lines.append("Connection: close")
        upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self._relay(upstream)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def _relay(self, upstream: socket.socket) -> None:
        client = self.connection
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 30)
                if not ready:
                    break
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()
            self.close_connection = True


class AuthProxy:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.requests: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "AuthProxy":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.daemon_threads = True
        self._server.proxy = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return (f"http://{urllib.parse.quote(self.user, safe='')}:{urllib.parse.quote(self.password, safe='')}"
                f"@{self.address}")

    def through(self, path_end: str) -> list[bool]:
        """Whether each recorded request for a URL ending in ``path_end`` was authorised."""
        with self.lock:
            return [ok for _method, target, ok in self.requests if target.split("?", 1)[0].endswith(path_end)]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
