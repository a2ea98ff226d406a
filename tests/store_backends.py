"""The store's backends as fixtures: a test that asks for ``store_dir`` (or ``ledger``) runs on each of them.

``sqlite``: the ledger in the data folder's SQLite file, pictures in the folder (the one-command start).
``postgresql+s3``: the ledger on a throwaway PostgreSQL cluster, a fresh database per test, and the pictures in
a fresh bucket on moto's S3 server (both from ``tests/servers.py``).
"""
from __future__ import annotations

import pytest

import lib.store
from tests.servers import postgres_cluster, s3_server  # noqa: F401  (session fixtures the backends use)

BACKENDS = ["sqlite", "postgresql+s3"]
STORE_VARIABLES = ("STUDIO_DATABASE_URL", "STUDIO_STORAGE_URL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                   "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def use_s3(monkeypatch, server) -> str:
    """Point the environment at a fresh bucket on ``server``; its ``s3://`` URL."""
    url = f"s3://{server.new_bucket()}/studio"
    for name, value in (("STUDIO_STORAGE_URL", url), ("AWS_ENDPOINT_URL", server.endpoint), ("AWS_ACCESS_KEY_ID", "test"),
                        ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    return url


@pytest.fixture(params=BACKENDS)
def store_dir(request, tmp_path, monkeypatch):
    """A fresh data dir, with the ledger database and image storage of the backend under test
    (set in the environment, so child processes started by the test use them too)."""
    for name in STORE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if request.param == "postgresql+s3":
        monkeypatch.setenv("STUDIO_DATABASE_URL", request.getfixturevalue("postgres_cluster").new_database())
        use_s3(monkeypatch, request.getfixturevalue("s3_server"))
    data = tmp_path / "data"
    yield data
    with lib.store._stores_lock:  # let go of this test's pooled connections (PostgreSQL counts them)
        for key in [k for k in lib.store._stores if k[0] == data.resolve()]:
            lib.store._stores.pop(key)[1].close()


@pytest.fixture
def ledger(store_dir):
    """The ledger of the backend under test."""
    return lib.store.open_store(store_dir)[1]
