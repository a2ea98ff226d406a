"""The store's backends as fixtures: a test that asks for ``store_dir`` (or ``ledger``) runs on each of them.

``sqlite``: the ledger in the data folder's SQLite file, pictures in the folder (the one-command start).
``postgresql``: the ledger on a throwaway PostgreSQL cluster (``tests/servers.py``), a fresh database per test.
"""
from __future__ import annotations

import pytest

import lib.store
from tests.servers import postgres_cluster, s3_server  # noqa: F401  (session fixtures the backends use)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def store_dir(request, tmp_path, monkeypatch):
    """A fresh data dir, with the ledger database and image storage of the backend under test
    (set in the environment, so child processes started by the test use them too)."""
    monkeypatch.delenv("STUDIO_DATABASE_URL", raising=False)
    if request.param == "postgresql":
        monkeypatch.setenv("STUDIO_DATABASE_URL", request.getfixturevalue("postgres_cluster").new_database())
    data = tmp_path / "data"
    yield data
    with lib.store._stores_lock:  # let go of this test's pooled connections (PostgreSQL counts them)
        for key in [k for k in lib.store._stores if k[0] == data.resolve()]:
            lib.store._stores.pop(key)[1].close()


@pytest.fixture
def ledger(store_dir):
    """The ledger of the backend under test."""
    return lib.store.open_store(store_dir)[1]
