"""Debian's nginx running the project's deploy/nginx/studio.conf on loopback, in front of given replica ports."""
from __future__ import annotations

import http.client
import shutil
import subprocess
import time
from pathlib import Path

from tests.servers import free_port, stop_process, unavailable

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx" / "studio.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        unavailable("nginx is not installed (apt-get install nginx)")
    return found


class Nginx:
    """One nginx master (``daemon off``) serving ``studio.conf`` on ``port``; ``stop()`` ends it."""

    def __init__(self, workdir: Path, replica_ports: list[int], *, extra_location: str = "") -> None:
        """``extra_location``: lines added to the site's ``location /`` (test instrumentation only)."""
        nginx = nginx_binary()
        self.port = free_port()
        site = CONF.read_text()
        assert "server 127.0.0.1:8501;" in site and "server 127.0.0.1:8502;" in site and "listen 8080;" in site
        upstreams = "".join(f"server 127.0.0.1:{port};\n    " for port in replica_ports)
        site = (site.replace("server 127.0.0.1:8501;", upstreams.rstrip())
                    .replace("server 127.0.0.1:8502;", "")
                    .replace("listen 8080;", f"listen 127.0.0.1:{self.port};"))
        if extra_location:
            site = site.replace("proxy_pass http://studio_replicas;", f"proxy_pass http://studio_replicas;\n        {extra_location}")
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "studio.conf").write_text(site)
        temp = "".join(f"{kind}_temp_path {workdir}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (workdir / "nginx.conf").write_text(
            f"worker_processes 1;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\nevents {{}}\n"
            f"http {{\naccess_log off;\n{temp}include {workdir}/studio.conf;\n}}\n")
        check = subprocess.run([nginx, "-t", "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/")
                conn.close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.process)
