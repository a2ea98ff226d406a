"""deploy/nginx/studio.conf on Debian's nginx: each browser stays on one replica; websockets pass through."""
from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.deploy.nginx_support import Nginx, nginx_binary


def replica(name: str) -> ThreadingHTTPServer:
    """A stand-in for one app replica: says its name and the headers it got."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"replica": name, "upgrade": self.headers.get("Upgrade"),
                               "connection": self.headers.get("Connection")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def proxy(tmp_path):
    nginx_binary()
    replicas = [replica("one"), replica("two")]
    nginx = Nginx(tmp_path, [server.server_port for server in replicas])
    yield nginx.port
    nginx.stop()
    for server in replicas:
        server.shutdown()


def get(port: int, cookie: str | None = None, headers: dict | None = None) -> tuple[dict, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/_stcore/health", headers={**({"Cookie": cookie} if cookie else {}), **(headers or {})})
    answer = conn.getresponse()
    body = json.loads(answer.read())
    set_cookie = answer.getheader("Set-Cookie")
    conn.close()
    return body, set_cookie.split(";", 1)[0] if set_cookie else None


def test_each_browser_stays_on_its_replica_and_browsers_spread_over_both(proxy):
    seen = set()
    for _ in range(16):
        first, cookie = get(proxy)
        assert cookie and cookie.startswith("studio_replica=")
        for _ in range(4):
            again, kept = get(proxy, cookie)
            assert again["replica"] == first["replica"] and kept == cookie
        seen.add(first["replica"])
    assert seen == {"one", "two"}


def test_the_session_websocket_upgrade_reaches_the_replica(proxy):
    body, _ = get(proxy, headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    assert body["upgrade"] == "websocket" and body["connection"] == "upgrade"
    plain, _ = get(proxy)
    assert plain["upgrade"] is None and plain["connection"] == "close"
