"""Real servers for the store tests, started on loopback without Docker: a throwaway PostgreSQL cluster
(Debian's ``postgresql`` package) and an S3 server (``moto_server`` from ``moto[server]``).

When one cannot be started here the tests that need it skip, saying why; with
``STUDIO_REQUIRE_SERVERS=1`` (CI) they fail instead, so a missing install step shows.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRED = os.environ.get("STUDIO_REQUIRE_SERVERS") == "1"


def unavailable(reason: str):
    """Skip (or, where servers are required, fail) with ``reason``."""
    if REQUIRED:
        pytest.fail(f"STUDIO_REQUIRE_SERVERS=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


@dataclass
class PostgresCluster:
    port: int
    root: Path
    bindir: Path
    as_user: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "stop", "-D", str(self.root / "db"), "-m", "immediate"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresCluster:
    """initdb + pg_ctl start on a free loopback port (as the ``postgres`` user when we are root: initdb refuses root)."""
    bindir = _pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="studio-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("running as root without runuser: cannot start PostgreSQL as the postgres user")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    initdb = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(root / "db"), "-U", "postgres", "-A", "trust",
                             "--no-sync", "-E", "UTF8", "--locale=C"], capture_output=True, text=True, timeout=120)
    if initdb.returncode != 0:
        raise RuntimeError(f"initdb failed: {initdb.stderr.strip()[-400:]}")
    options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=200")
    started = subprocess.run([*as_user, str(bindir / "pg_ctl"), "start", "-D", str(root / "db"), "-w", "-t", "60",
                              "-o", options, "-l", str(root / "log")], capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        log = (root / "log").read_text(errors="replace")[-400:] if (root / "log").exists() else started.stderr
        raise RuntimeError(f"PostgreSQL did not start: {log.strip()}")
    return PostgresCluster(port, root, bindir, as_user)


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen

    def new_bucket(self) -> str:
        import boto3

        name = "studio-" + uuid.uuid4().hex[:12]
        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        client.create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen) -> None:
    """Ask a server to stop; kill it when it has not within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start_s3() -> S3Server:
    """moto's real server (``moto_server``) on a free loopback port."""
    binary = shutil.which("moto_server")
    if binary is None:
        raise RuntimeError("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return S3Server(f"http://127.0.0.1:{port}", process)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("moto_server exited at start")
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start listening within 30 s")


@pytest.fixture(scope="session")
def postgres_cluster():
    try:
        cluster = start_postgres()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        unavailable(f"no PostgreSQL for the tests: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def s3_server():
    try:
        server = start_s3()
    except (RuntimeError, OSError) as exc:
        unavailable(f"no S3 server for the tests: {exc}")
    yield server
    server.stop()
