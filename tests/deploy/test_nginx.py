"""deploy/nginx/studio.conf on Debian's nginx: each browser stays on one replica; websockets pass through."""
from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.servers import free_port, unavailable

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx" / "studio.conf"


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
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        unavailable("nginx is not installed (apt-get install nginx)")
    replicas = [replica("one"), replica("two")]
    port = free_port()
    site = CONF.read_text()
    assert "server 127.0.0.1:8501;" in site and "server 127.0.0.1:8502;" in site and "listen 8080;" in site
    site = (site.replace("server 127.0.0.1:8501;", f"server 127.0.0.1:{replicas[0].server_port};")
                .replace("server 127.0.0.1:8502;", f"server 127.0.0.1:{replicas[1].server_port};")
                .replace("listen 8080;", f"listen 127.0.0.1:{port};"))
    (tmp_path / "studio.conf").write_text(site)
    temp = "".join(f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"worker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\n{temp}include {tmp_path}/studio.conf;\n}}\n")
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
            break
        except OSError:
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(timeout=10)
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
