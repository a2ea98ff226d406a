"""The store's backends as fixtures: a test that asks for ``store_dir`` runs on each of them.

SQLite + folder always; PostgreSQL + S3 when the servers can be started here (see ``tests/servers.py``).
"""
from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite"])
def store_dir(request, tmp_path, monkeypatch):
    """A fresh data dir, with the ledger database and image storage of the backend under test."""
    monkeypatch.delenv("STUDIO_DATABASE_URL", raising=False)
    return tmp_path / "data"
