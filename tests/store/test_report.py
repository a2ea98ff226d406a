"""Figures, chart data, filter choices and table pages the ledger page shows, computed by SQLite from known rows."""
from __future__ import annotations

import io
import sqlite3
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from lib.store import open_store, report
from lib.store.ledger import COLUMNS, Ledger, migrations

from .test_ledger import make_row

DAY1, DAY2 = datetime(2026, 11, 1, 10, tzinfo=timezone.utc), datetime(2026, 11, 2, 10, tzinfo=timezone.utc)
EVERYTHING = report.Selection()


@pytest.fixture
def ledger(store_dir):
    ledger = open_store(store_dir)[1]
    ledger.insert_many([
        make_row(created_at=DAY1, cost_usd=0.10, latency_ms=1000.0, n_images=2, input_tokens=10, output_tokens=100),
        make_row(created_at=DAY1, cost_usd=0.05, backend="demo", latency_ms=2000.0, n_images=1),
        make_row(created_at=DAY2, provider="karlo", model="karlo-v2", cost_usd=0.0, cost_source="table", latency_ms=3000.0, n_images=4,
                 input_tokens=None, output_tokens=None, prompt="a blue whale"),
        make_row(created_at=DAY2, status="error", cost_usd=None, cost_source="unpriced", latency_ms=None, n_images=None,
                 input_tokens=None, output_tokens=None),
    ])
    return ledger


def figures_of(ledger, selection=EVERYTHING, live_only=True):
    totals = report.apply_filters(report.totals(ledger, selection), selection.chosen)
    return report.figures(totals, report.latencies(ledger, selection, totals), live_only=live_only)


def charts_of(ledger, selection=EVERYTHING):
    totals = report.apply_filters(report.totals(ledger, selection), selection.chosen)
    return report.chart_frames(totals, report.latencies(ledger, selection, totals))


def test_figures(ledger):
    live = figures_of(ledger)
    assert (live.calls, live.images, live.unpriced_calls) == (4, 7, 1)
    assert live.spend_usd == pytest.approx(0.10)  # the demo row's 0.05 is left out
    assert figures_of(ledger, live_only=False).spend_usd == pytest.approx(0.15)
    assert live.error_rate == pytest.approx(0.25)
    assert (live.p50_latency_ms, live.p95_latency_ms) == (2000.0, pytest.approx(2900.0))
    assert live.input_tokens == 10 + 20 and live.output_tokens == 100 + 1056  # unknown counts add nothing


def test_a_prompt_search_gives_the_same_kind_of_figures(ledger):
    whale = figures_of(ledger, report.Selection(text="WHALE"))
    assert (whale.calls, whale.images, whale.spend_usd, whale.p50_latency_ms) == (1, 4, 0.0, 3000.0)
    lighthouse = figures_of(ledger, report.Selection(text="lighthouse", chosen={"status": ["ok"]}))
    assert (lighthouse.calls, lighthouse.images, lighthouse.unpriced_calls) == (2, 3, 0)
    assert lighthouse.spend_usd == pytest.approx(0.10)


def test_empty_selection_has_no_figures_to_invent(ledger):
    nobody = report.Selection(chosen={"provider": ["nobody"]})
    figures = figures_of(ledger, nobody)
    assert (figures.calls, figures.spend_usd, figures.error_rate, figures.p50_latency_ms) == (0, 0.0, None, None)
    assert all(frame.empty for frame in charts_of(ledger, nobody).values())
    assert report.table_page(ledger, nobody, 1, 50).empty


def test_chart_frames(ledger):
    charts = charts_of(ledger)
    spend = charts["spend_per_day"]
    assert list(spend.columns) == ["karlo", "openai"] and len(spend) == 2
    assert spend.loc["2026-11-01", "openai"] == pytest.approx(0.10)
    by_model = charts["calls_by_model"]
    assert by_model.index[0] == "gpt-image-2" and by_model.loc["gpt-image-2", "failed"] == 1
    assert by_model.loc["gpt-image-2", "ok"] == 2 and list(by_model.columns) == ["ok", "failed"]
    assert charts["latency"]["calls"].sum() == 3


def test_options_follow_days_and_search_and_filters_narrow(ledger):
    assert report.options(report.totals(ledger, EVERYTHING))["provider"] == ["karlo", "openai"]
    assert report.options(report.totals(ledger, report.Selection(until=DAY1.date())))["provider"] == ["openai"]
    assert report.options(report.totals(ledger, report.Selection(text="whale")))["model"] == ["karlo-v2"]
    assert figures_of(ledger, report.Selection(chosen={"provider": ["openai"], "status": ["ok"], "model": []})).calls == 2


def test_days_are_whole_utc_days(ledger):
    assert figures_of(ledger, report.Selection(since=DAY2.date())).calls == 2
    assert figures_of(ledger, report.Selection(until=DAY1.date())).calls == 2  # a date includes that whole day
    assert figures_of(ledger, report.Selection(since=DAY2.date(), chosen={"provider": ["karlo"]})).calls == 1
    assert figures_of(ledger, report.Selection(text="no such words")).calls == 0


def test_table_page_is_newest_first_with_prompt_and_first_image(ledger):
    row = make_row(prompt="with pictures", output_refs=["a" * 64, "b" * 64], input_refs=["c" * 64])
    inputs_only = make_row(prompt=None, input_refs=["d" * 64])
    ledger.insert_many([row, inputs_only])
    first = report.table_page(ledger, EVERYTHING, 1, 4)
    assert list(first["id"][:2]) == [inputs_only.id, row.id]
    assert (first["image"].iloc[0], first["image"].iloc[1]) == ("d" * 64, "a" * 64)
    assert first["prompt"].iloc[1] == "with pictures"
    assert first["image"].iloc[2] is None  # no picture at all
    second = report.table_page(ledger, EVERYTHING, 2, 4)
    assert len(second) == 2 and not set(second["id"]) & set(first["id"])
    assert list(report.table_page(ledger, report.Selection(chosen={"provider": ["karlo"]}), 1, 4)["prompt"]) == ["a blue whale"]


def test_totals_follow_inserts_and_deletes_from_any_connection(tmp_path, ledger):
    other_process = Ledger(ledger.path, url=ledger.url)  # a second writer on the same database
    late = make_row(created_at=DAY1, cost_usd=0.123456789, n_images=3, latency_ms=500.0)
    other_process.insert(late)
    assert figures_of(ledger).calls == 5 and figures_of(ledger).images == 10
    assert figures_of(ledger).spend_usd == pytest.approx(0.10 + 0.123456789, abs=1e-9)
    other_process.delete([late.id])
    after = figures_of(ledger)
    assert (after.calls, after.images, after.spend_usd) == (4, 7, 0.10)  # exactly what was there before
    everyone = ledger.frame()
    ledger.delete(list(everyone["id"]))
    assert figures_of(ledger).calls == 0 and report.totals(ledger, EVERYTHING).empty  # no rows of zeros left behind


def test_a_ledger_from_before_the_totals_gets_them_counted(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path)
    for number, _name, sql in migrations()[:2]:
        conn.executescript(sql)
        conn.execute(f"PRAGMA user_version = {number}")
    rows = [make_row(created_at=DAY1, n_images=2), make_row(created_at=DAY2, model=None, cost_usd=None, cost_source="unpriced")]
    early = [c for c in COLUMNS if c not in ("person", "key_source")]  # migration 1's (these came with 7 and 8)
    conn.executemany(f"INSERT INTO calls ({', '.join(early)}) VALUES ({', '.join('?' for _ in early)})",
                     [Ledger._values(r)[:len(early)] for r in rows])  # written before migration 3 existed
    conn.commit()
    conn.close()
    upgraded = Ledger(path)
    figures = figures_of(upgraded)
    assert (figures.calls, figures.images, figures.unpriced_calls) == (2, 3, 1)
    assert "(none)" in report.calls_by_model(report.totals(upgraded, EVERYTHING)).index


def latencies_of(ledger, selection):
    return report.latencies(ledger, selection, report.apply_filters(report.totals(ledger, selection), selection.chosen))


def test_latencies_are_those_of_the_chosen_rows(ledger):
    assert sorted(latencies_of(ledger, EVERYTHING)) == [1000.0, 2000.0, 3000.0]
    assert list(latencies_of(ledger, report.Selection(chosen={"backend": ["demo"]}))) == [2000.0]
    nothing = latencies_of(ledger, report.Selection(text="nothing like it"))
    assert isinstance(nothing, np.ndarray) and nothing.size == 0


def test_a_search_reads_latencies_with_its_totals_and_they_match_the_ledgers(ledger):
    ledger.insert_many([make_row(created_at=DAY2, latency_ms=1234.5678, prompt="lighthouse again"),
                        make_row(created_at=DAY2, latency_ms=None, prompt="lighthouse, untimed")])
    for selection in (report.Selection(text="lighthouse"), report.Selection(text="lighthouse", chosen={"backend": ["live"]}),
                      report.Selection(since=DAY2.date(), text="LIGHTHOUSE", chosen={"status": ["ok"]})):
        chosen = report.apply_filters(report.totals(ledger, selection), selection.chosen)
        assert "latency_ms" in chosen  # no second pass over the matching calls
        assert sorted(report.latencies(ledger, selection, chosen)) == sorted(ledger.latencies(**selection.filters()))
    assert sorted(latencies_of(ledger, report.Selection(text="lighthouse"))) == [1000.0, 1234.5678, 2000.0]


def test_export_has_every_column_of_the_chosen_rows_only(ledger):
    chosen = report.Selection(chosen={"provider": ["openai"], "status": ["ok"]})
    exported = report.export_frame(ledger, chosen)
    assert len(exported) == 2 and set(exported["provider"]) == {"openai"} and set(exported["status"]) == {"ok"}
    csv = pd.read_csv(io.BytesIO(report.to_csv(exported)))
    assert list(csv.columns) == list(exported.columns) and "params" in csv.columns and "error_message" in csv.columns
    parquet = pd.read_parquet(io.BytesIO(report.to_parquet(exported)))
    assert len(parquet) == 2 and str(parquet["created_at"].dtype).endswith("UTC]")
