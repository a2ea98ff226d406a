"""Two real app replicas (``streamlit run streamlit_app.py``) behind Debian's nginx with deploy/nginx/studio.conf,
on one PostgreSQL database and one S3 bucket, in demo mode, driven in headless Chromium.

A browser session pinned to each replica generates a picture; both rows show on either replica's ledger page;
the pictures come from the bucket and nothing of them is on a replica's disk. Then one replica is killed
(SIGKILL) while its call is in flight: the row stays ``pending``, the surviving replica settles it as
``interrupted`` on its own timer (nobody opens the ledger), and the other rows are intact.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from lib import limits
from tests.browser_support import ROOT, assert_no_exception, screenshot, start_app, stop_app, wait_for_app
from tests.deploy.nginx_support import Nginx, nginx_binary
from tests.servers import postgres_cluster, s3_server  # noqa: F401  (session fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(480)]

UPSTREAM_HEADER = "x-studio-upstream"  # added to the test's copy of studio.conf only: which replica answered
PICTURE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"RIFF", b"GIF8")


@dataclass
class Replica:
    process: subprocess.Popen
    port: int
    data_dir: Path


@dataclass
class Team:
    nginx: Nginx
    replicas: list[Replica]
    database_url: str
    bucket: str
    s3_endpoint: str

    def rows(self) -> list[tuple]:
        """(prompt, status, output_refs, owner) of every ledger row, read straight from PostgreSQL (a read does not
        settle anything, unlike opening a Ledger)."""
        import psycopg

        url = urlparse(self.database_url.replace("postgresql+psycopg", "postgresql"))
        with psycopg.connect(host=url.hostname, port=url.port, user=url.username, dbname=url.path.lstrip("/")) as conn:
            return conn.execute("SELECT prompt, status, output_refs, owner FROM calls ORDER BY created_at").fetchall()

    def bucket_keys(self) -> list[str]:
        import boto3

        client = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        return [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
                for item in page.get("Contents", [])]


@pytest.fixture
def team(tmp_path, chromium_path, postgres_cluster, s3_server):  # noqa: F811
    nginx_binary()  # skip (or fail where servers are required) before starting anything
    database_url = postgres_cluster.new_database()
    bucket = s3_server.new_bucket()
    env = {
        "STUDIO_DATABASE_URL": database_url, "STUDIO_STORAGE_URL": f"s3://{bucket}/studio",
        "AWS_ENDPOINT_URL": s3_server.endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1", "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_urlsafe(32),
    }
    # deploy/README's order: migrate once, then start the replicas
    migrated = subprocess.run([sys.executable, "-m", "lib.store.migrate"], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, env={**os.environ, **env, "STUDIO_DATA_DIR": str(tmp_path / "migrate")})
    assert migrated.returncode == 0 and "schema version" in migrated.stdout, migrated.stderr
    replicas: list[Replica] = []
    nginx = None
    try:
        for number in (1, 2):
            data_dir = tmp_path / f"replica{number}-data"
            process, app = start_app(data_dir, tmp_path / f"replica{number}.log", **env)
            replicas.append(Replica(process, urlparse(app["url"]).port, data_dir))
        nginx = Nginx(tmp_path / "nginx", [r.port for r in replicas],
                      extra_location="add_header X-Studio-Upstream $upstream_addr always;")
        yield Team(nginx, replicas, database_url, bucket, s3_server.endpoint)
    finally:
        if nginx is not None:
            nginx.stop()
        for replica in replicas:
            stop_app(replica.process)


def replica_of(context, team: Team) -> int:
    """Which replica (its port) nginx sends this browser context to, with the context's own cookies."""
    answer = context.request.get(team.nginx.url + "/_stcore/health")
    assert answer.ok, answer.status
    return int(answer.headers[UPSTREAM_HEADER].rsplit(":", 1)[1])


def session_on(browser, team: Team, replica: Replica):
    """A new browser context that nginx's affinity cookie pins to ``replica`` (new contexts land at random)."""
    for _ in range(40):
        context = browser.new_context(viewport={"width": 1400, "height": 1500})
        if replica_of(context, team) == replica.port:
            return context
        context.close()
    pytest.fail(f"nginx never sent a new browser to the replica on port {replica.port}")


def main(page):
    return page.locator("[data-testid='stMain']")


def generate(page, team: Team, prompt: str) -> None:
    page.goto(team.nginx.url + "/generate")
    wait_for_app(page)
    box = main(page).get_by_role("textbox", name="Prompt", exact=True)
    box.fill(prompt)
    box.press("Tab")
    wait_for_app(page)
    main(page).get_by_role("button", name="Generate", exact=True).first.click()


def picture_sources(page) -> list[str]:
    """The src of every picture on the page once at least one has loaded."""
    page.wait_for_function("""() => [...document.querySelectorAll("[data-testid='stMain'] [data-testid='stImage'] img")]
                                   .some(i => i.complete && i.naturalWidth > 0)""", timeout=90_000)
    return main(page).locator("[data-testid='stImage'] img").evaluate_all("images => images.map(i => i.src)")


def ledger_table(page, team: Team) -> dict[str, str]:
    """The ledger page's table as a person sees it: {prompt: status} of its rows (read from the grid's cells)."""
    page.goto(team.nginx.url + "/ledger")
    wait_for_app(page)
    assert_no_exception(page)
    grid = page.locator("[data-testid='stDataFrame'] [role='row']")
    page.wait_for_function("() => document.querySelectorAll(\"[data-testid='stDataFrame'] [role='gridcell']\").length > 0",
                           timeout=30_000)
    header = [c.strip() for c in grid.first.locator("[role='columnheader']").all_text_contents()]
    prompt_at, status_at = header.index("Prompt"), header.index("status") if "status" in header else header.index("Status")
    shown = {}
    for row in grid.all()[1:]:
        cells = row.locator("[role='gridcell']").all_text_contents()
        if len(cells) > max(prompt_at, status_at):
            shown[cells[prompt_at]] = cells[status_at]
    return shown


def test_two_replicas_share_one_ledger_and_bucket_and_settle_a_killed_replica_s_call(team, browser):
    first, second = team.replicas
    contexts = [session_on(browser, team, first), session_on(browser, team, second)]
    try:
        pages = [context.new_page() for context in contexts]
        prompts = ["a red kite over the first replica", "a blue boat beside the second replica"]
        for page, prompt in zip(pages, prompts):
            generate(page, team, prompt)
        for page, replica in zip(pages, team.replicas):
            sources = picture_sources(page)
            assert_no_exception(page)
            assert sources and all(src.startswith(team.s3_endpoint + "/") for src in sources), sources  # from the bucket
            assert replica_of(page.context, team) == replica.port, "the session stayed on its replica"
        rows = team.rows()
        assert sorted((prompt, status) for prompt, status, _, _ in rows) == sorted((p, "ok") for p in prompts)

        for page in pages:  # each replica's ledger page shows both replicas' calls
            shown = ledger_table(page, team)
            assert {p: shown.get(p) for p in prompts} == {p: "ok" for p in prompts}, shown

        keys = team.bucket_keys()
        for _, _, refs, _ in rows:
            for sha in json.loads(refs):
                assert any(sha in key and "/images/" in key for key in keys), f"picture {sha} is not in the bucket"
        for replica in team.replicas:  # nothing of a picture on a replica's disk
            files = [p for p in replica.data_dir.rglob("*") if p.is_file()]
            assert not [p for p in files if p.read_bytes()[:4].startswith(PICTURE_MAGIC)], files
            assert not (replica.data_dir / "images").exists() and not (replica.data_dir / "thumbs").exists()

        # --- the first replica dies in the middle of a call -----------------------------------------------
        slow = "a lighthouse that takes its time [latency:90000]"
        generate(pages[0], team, slow)
        deadline = time.monotonic() + 30
        while not [r for r in team.rows() if r[0] == slow] and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # the request is out; the first replica's demo provider is holding it
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        in_flight = [r for r in team.rows() if r[0] == slow]
        assert [r[1] for r in in_flight] == ["pending"], in_flight
        assert f":{first.process.pid}:" in in_flight[0][3], "the pending row names the killed replica as its sender"

        # nobody opens the ledger: the surviving replica's sweeper settles it within its interval
        deadline = time.monotonic() + limits.PENDING_SWEEP_INTERVAL_S + 30
        while [r[1] for r in team.rows() if r[0] == slow] == ["pending"] and time.monotonic() < deadline:
            time.sleep(0.5)
        after = {prompt: status for prompt, status, _, _ in team.rows()}
        assert after == {prompts[0]: "ok", prompts[1]: "ok", slow: "interrupted"}, after

        # both sessions now reach the survivor (the first one through nginx's fail-over) and see every row
        for page in pages:
            shown = ledger_table(page, team)
            assert replica_of(page.context, team) == second.port
            assert {p: shown.get(p) for p in (*prompts, slow)} == {prompts[0]: "ok", prompts[1]: "ok",
                                                                     slow: "interrupted"}, shown
        screenshot(pages[0], "replicas-ledger-after-kill")
    finally:
        for context in contexts:
            context.close()
