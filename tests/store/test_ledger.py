"""The ledger: migrations, integrity under concurrent writes, typed frames, filters, delete, votes, settings."""
from __future__ import annotations

import sqlite3
import threading
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from lib.store import StoreUnavailable, open_store
from lib.store.ledger import Ledger, LedgerRow, migrations, new_id, utc_now


def make_row(**overrides) -> LedgerRow:
    base = dict(
        id=new_id(), created_at=utc_now(), page="generate", action="generate", provider="openai", backend="live",
        model="gpt-image-2", prompt="a lighthouse at dusk", cost_usd=0.01, cost_source="computed", n_images=1,
        width=1024, height=1024, input_tokens=20, output_tokens=1056, latency_ms=900.0,
    )
    base.update(overrides)
    return LedgerRow(**base)




def test_migrates_an_empty_file_and_reopens_without_change(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    first = Ledger(path)
    assert first.schema_version == len(migrations()) >= 2
    first.insert(make_row(prompt="kept across reopen"))
    again = Ledger(path)  # a second open (another process, a restart) must not re-run anything
    assert again.schema_version == first.schema_version
    assert [r.prompt for r in again.rows()] == ["kept across reopen"]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"calls", "votes", "settings"} <= tables
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"calls_created_at", "calls_group_id", "calls_provider_model"} <= indexes


def test_an_old_database_is_brought_up_to_date(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path)
    number, _name, sql = migrations()[0]
    conn.executescript(sql)
    conn.execute(f"PRAGMA user_version = {number}")
    conn.commit()
    conn.close()
    ledger = Ledger(path)
    assert ledger.schema_version == len(migrations())
    ledger.set_setting("monthly_budget_usd", 25.0)  # a table from migration 2
    assert ledger.get_setting("monthly_budget_usd") == 25.0


def test_eight_threads_times_500_writes_lose_nothing(ledger):
    written: list[list[str]] = [[] for _ in range(8)]
    errors = []
    start = threading.Barrier(8)

    def writer(slot):
        try:
            start.wait()
            for i in range(500):
                row = make_row(prompt=f"thread {slot} call {i}", group_id=f"g{slot}")
                ledger.insert(row)
                written[slot].append(row.id)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [i for batch in written for i in batch]
    assert len(ids) == len(set(ids)) == 4000
    stored = ledger.frame()
    assert len(stored) == 4000
    assert set(stored["id"]) == set(ids)
    assert stored.groupby("group_id").size().to_dict() == {f"g{n}": 500 for n in range(8)}


def test_ids_sort_by_creation_time():
    earlier, later = new_id(now=1_700_000_000.0), new_id(now=1_700_000_000.002)
    assert earlier < later
    assert len({new_id() for _ in range(10_000)}) == 10_000


def test_frame_has_real_dtypes_even_when_empty(ledger):
    empty = ledger.frame()
    ledger.insert(make_row(http_status=None, cost_usd=None, cost_source="unpriced"))
    full = ledger.frame()
    for frame in (empty, full):
        assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
        for col in ("n_images", "width", "height", "input_tokens", "output_tokens", "http_status"):
            assert frame[col].dtype == "Int64", col
        assert frame["cost_usd"].dtype == "float64"
        for col in ("provider", "backend", "status", "model", "cost_source"):
            assert isinstance(frame[col].dtype, pd.CategoricalDtype), col
    assert full["http_status"].isna().all() and full["cost_usd"].isna().all()
    assert full["width"].iloc[0] == 1024


def test_frame_filters(ledger):
    now = utc_now()
    ledger.insert(make_row(prompt="A red Fox in snow", provider="openai", created_at=now - timedelta(days=3)))
    ledger.insert(make_row(prompt="blue whale", provider="karlo", model="karlo-v2", backend="demo", created_at=now - timedelta(days=1)))
    ledger.insert(make_row(prompt="100% cotton_shirt", status="error", cost_usd=None, cost_source="unpriced", created_at=now))
    ledger.insert(make_row(page="chat", action="chat", model="gpt-5.4-mini", prompt="hello", created_at=now))

    assert list(ledger.frame(text="fox")["prompt"]) == ["A red Fox in snow"]  # case-insensitive
    assert list(ledger.frame(text="100%")["prompt"]) == ["100% cotton_shirt"]  # % and _ are literal
    assert list(ledger.frame(text="a_red")["prompt"]) == []  # would match "A red" if _ were a wildcard
    assert list(ledger.frame(providers="karlo")["prompt"]) == ["blue whale"]
    assert set(ledger.frame(backends=["live"])["prompt"]) == {"A red Fox in snow", "100% cotton_shirt", "hello"}
    assert list(ledger.frame(statuses=["error"])["prompt"]) == ["100% cotton_shirt"]
    assert list(ledger.frame(pages=["chat"])["prompt"]) == ["hello"]
    assert list(ledger.frame(models=["karlo-v2", "nothing"])["prompt"]) == ["blue whale"]
    assert ledger.frame(providers=[]).empty
    recent = ledger.frame(since=now - timedelta(days=2))
    assert len(recent) == 3 and recent["created_at"].is_monotonic_decreasing  # newest first
    old = ledger.frame(until=(now - timedelta(days=3)).date())  # a date includes that whole day
    assert list(old["prompt"]) == ["A red Fox in snow"]
    assert len(ledger.frame(limit=2)) == 2


def test_spend_counts_live_rows_only_and_skips_unpriced(ledger):
    month_start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    ledger.insert(make_row(cost_usd=0.25, created_at=datetime(2026, 11, 5, tzinfo=timezone.utc)))
    ledger.insert(make_row(cost_usd=0.50, backend="demo", created_at=datetime(2026, 11, 6, tzinfo=timezone.utc)))
    ledger.insert(make_row(cost_usd=None, cost_source="unpriced", created_at=datetime(2026, 11, 7, tzinfo=timezone.utc)))
    ledger.insert(make_row(cost_usd=4.00, created_at=datetime(2026, 10, 31, 23, 59, tzinfo=timezone.utc)))
    assert ledger.spend(since=month_start) == pytest.approx(0.25)
    assert ledger.spend(since=month_start, backend=None) == pytest.approx(0.75)
    assert ledger.spend(since=date(2026, 10, 1)) == pytest.approx(4.25)


def test_count_images_counts_successful_live_images(ledger):
    since = utc_now() - timedelta(hours=1)
    ledger.insert(make_row(provider="karlo", n_images=4))
    ledger.insert(make_row(provider="karlo", n_images=2, backend="demo"))
    ledger.insert(make_row(provider="karlo", n_images=None, status="error"))
    ledger.insert(make_row(provider="openai", n_images=3))
    assert ledger.count_images("karlo", since=since) == 4
    assert ledger.count_images("karlo", since=since, backend=None) == 6


def test_rows_by_group_and_get(ledger):
    a = ledger.insert(make_row(group_id="run-1", params={"size": "1024x1024"}, output_refs=["ab" * 32]))
    ledger.insert(make_row(group_id="run-2"))
    b = ledger.insert(make_row(group_id="run-1", usage_detail={"seeds": [1, 2]}))
    assert [r.id for r in ledger.rows(group_id="run-1")] == [a.id, b.id]
    got = ledger.get(a.id)
    assert got.params == {"size": "1024x1024"} and got.output_refs == ["ab" * 32]
    assert got.created_at.tzinfo is not None and got.created_at == a.created_at
    assert ledger.get("no-such-id") is None


def test_delete_removes_rows_and_only_orphaned_images(store_dir):
    images, ledger = open_store(store_dir)
    from .helpers import png

    shared = images.put(png(colour=(1, 1, 1, 255))).sha256
    only_a = images.put(png(colour=(2, 2, 2, 255))).sha256
    mask = images.put(png(colour=(0, 0, 0, 0))).sha256
    a = ledger.insert(make_row(input_refs=[shared], mask_ref=mask, output_refs=[only_a]))
    b = ledger.insert(make_row(output_refs=[shared]))
    removed = ledger.delete([a.id])
    assert sorted(removed) == sorted([only_a, mask])
    assert not images.exists(only_a) and not images.exists(mask)
    assert images.exists(shared)  # row b still names it
    assert ledger.get(a.id) is None and ledger.get(b.id) is not None
    assert ledger.delete([b.id]) == [shared] and not images.exists(shared)
    assert ledger.delete([]) == []


def test_votes_and_settings(ledger):
    ledger.add_vote("cmp-1", "a cat", "gpt-image-2 high", ["gpt-image-2 high", "karlo-v2"])
    ledger.add_vote("cmp-1", "a dog", "tie", ["gpt-image-2 high", "karlo-v2"])
    votes = ledger.votes_frame()
    assert list(votes["winner"]) == ["gpt-image-2 high", "tie"]
    assert votes["targets"].iloc[0] == ["gpt-image-2 high", "karlo-v2"]
    assert ledger.get_setting("system_prompts", {}) == {}
    ledger.set_setting("system_prompts", {"translator": "Translate to English."})
    ledger.set_setting("system_prompts", {"translator": "Translate to English, keep names."})
    assert ledger.get_setting("system_prompts") == {"translator": "Translate to English, keep names."}


def test_open_store_is_cached_per_dir(tmp_path):
    assert open_store(tmp_path / "a") is open_store(tmp_path / "a")
    assert open_store(tmp_path / "a") is not open_store(tmp_path / "b")


def test_unusable_data_dir_gives_a_plain_message(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(StoreUnavailable) as caught:
        open_store(blocker / "data")
    assert "STUDIO_DATA_DIR" in str(caught.value) and "Traceback" not in str(caught.value)
