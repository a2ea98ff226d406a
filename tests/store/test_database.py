"""The ledger's database on either engine: migrations once, a newer schema refused in words, many writers."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lib.store import StoreUnavailable, open_store
from lib.store.db import migrations
from lib.store.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]


def test_both_engines_have_the_same_numbered_migrations():
    sqlite, postgresql = migrations("sqlite"), migrations("postgresql")
    assert [n for n, _, _ in sqlite] == [n for n, _, _ in postgresql]
    assert [name for _, name, _ in sqlite] == [name for _, name, _ in postgresql]


def test_a_database_from_a_newer_app_is_refused_in_words(ledger):
    newer = len(migrations()) + 1
    if ledger.path is not None:
        ledger.db.execute(f"PRAGMA user_version = {newer}")
    else:
        ledger.db.execute("INSERT INTO schema_version (version) VALUES (?)", (newer,))
    with pytest.raises(StoreUnavailable) as refused:
        Ledger(ledger.path, url=ledger.url)
    assert f"schema version {newer}, newer than this app knows" in refused.value.message
    assert "Upgrade this one before starting it" in refused.value.message


def test_a_bad_database_url_is_a_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATABASE_URL", "mysql://someone@127.0.0.1/studio")
    with pytest.raises(StoreUnavailable, match="must be an SQLite or PostgreSQL URL"):
        open_store(tmp_path / "a")
    monkeypatch.setenv("STUDIO_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    with pytest.raises(StoreUnavailable, match="Check STUDIO_DATABASE_URL"):
        open_store(tmp_path / "b")


WRITER = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    from lib.store import open_store
    from tests.store.test_ledger import make_row
    _, ledger = open_store(sys.argv[2])   # every process migrates (or finds it done) at once
    start, errors = threading.Barrier(8), []

    def write(slot):
        start.wait()
        try:
            for i in range(250):
                row = make_row(prompt=f"{sys.argv[3]} thread {slot} call {i}", group_id=f"{sys.argv[3]}-{slot}")
                ledger.insert(row)
                if i % 50 == 0:
                    ledger.insert(row)   # a retry of a write that did land: must not double it
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(len(errors), errors[:1])
    """
)


def test_two_processes_of_eight_threads_write_4000_rows_none_lost_none_doubled(store_dir):
    children = [subprocess.Popen([sys.executable, "-c", WRITER, str(ROOT), str(store_dir), f"p{n}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
                for n in range(2)]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-2000:]
        assert out.startswith("0 "), out
    _, ledger = open_store(store_dir)
    frame = ledger.frame(columns=["id", "prompt", "group_id"])
    assert len(frame) == 4000 and frame["id"].is_unique and frame["prompt"].is_unique
    assert frame.groupby("group_id").size().to_dict() == {f"p{p}-{t}": 250 for p in range(2) for t in range(8)}
    assert int(ledger.daily_totals()["calls"].sum()) == 4000  # the running totals agree
