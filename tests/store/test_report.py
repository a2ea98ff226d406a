"""Figures and chart data the ledger page shows, computed from known rows."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from lib.store import report
from lib.store.ledger import Ledger

from .test_ledger import make_row

DAY1, DAY2 = datetime(2026, 11, 1, 10, tzinfo=timezone.utc), datetime(2026, 11, 2, 10, tzinfo=timezone.utc)


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.insert_many([
        make_row(created_at=DAY1, cost_usd=0.10, latency_ms=1000.0, n_images=2, input_tokens=10, output_tokens=100),
        make_row(created_at=DAY1, cost_usd=0.05, backend="demo", latency_ms=2000.0, n_images=1),
        make_row(created_at=DAY2, provider="karlo", model="karlo-v2", cost_usd=0.0, cost_source="table", latency_ms=3000.0, n_images=4,
                 input_tokens=None, output_tokens=None),
        make_row(created_at=DAY2, status="error", cost_usd=None, cost_source="unpriced", latency_ms=None, n_images=None,
                 input_tokens=None, output_tokens=None),
    ])
    return ledger


def test_figures(ledger):
    rows = report.load(ledger, since=None)
    live = report.figures(rows)
    assert (live.calls, live.images, live.unpriced_calls) == (4, 7, 1)
    assert live.spend_usd == pytest.approx(0.10)  # the demo row's 0.05 is left out
    assert report.figures(rows, live_only=False).spend_usd == pytest.approx(0.15)
    assert live.error_rate == pytest.approx(0.25)
    assert (live.p50_latency_ms, live.p95_latency_ms) == (2000.0, pytest.approx(2900.0))
    assert live.input_tokens == 10 + 20 and live.output_tokens == 100 + 1056  # unknown counts add nothing


def test_empty_selection_has_no_figures_to_invent(ledger):
    empty = report.apply_filters(report.load(ledger, since=None), {"provider": ["nobody"]})
    figures = report.figures(empty)
    assert (figures.calls, figures.spend_usd, figures.error_rate, figures.p50_latency_ms) == (0, 0.0, None, None)
    assert all(frame.empty for frame in report.chart_frames(empty).values())


def test_chart_frames(ledger):
    charts = report.chart_frames(report.load(ledger, since=None))
    spend = charts["spend_per_day"]
    assert list(spend.columns) == ["karlo", "openai"] and len(spend) == 2
    assert spend.loc["2026-11-01", "openai"] == pytest.approx(0.10)
    by_model = charts["calls_by_model"]
    assert by_model.index[0] == "gpt-image-2" and by_model.loc["gpt-image-2", "failed"] == 1
    assert charts["latency"]["calls"].sum() == 3


def test_filters_and_options(ledger):
    rows = report.load(ledger, since=None)
    assert report.options(rows)["provider"] == ["karlo", "openai"]
    assert len(report.apply_filters(rows, {"provider": ["openai"], "status": ["ok"], "model": []})) == 2


def test_page_details_gives_prompt_and_first_image(ledger):
    row = make_row(prompt="with pictures", output_refs=["a" * 64, "b" * 64], input_refs=["c" * 64])
    inputs_only = make_row(prompt=None, input_refs=["d" * 64])
    ledger.insert_many([row, inputs_only])
    details = report.page_details(ledger, [row.id, inputs_only.id])
    assert details[row.id] == {"prompt": "with pictures", "image": "a" * 64}
    assert details[inputs_only.id] == {"prompt": None, "image": "d" * 64}


def test_snapshot_reads_only_new_rows_and_reloads_after_a_delete(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    snap = report.Snapshot(ledger)
    assert snap.current().empty
    first = make_row(prompt="first", created_at=DAY1)
    ledger.insert(first)
    assert list(snap.current()["id"]) == [first.id]

    other_process = Ledger(tmp_path / "ledger.sqlite3")  # a second writer on the same file
    second = make_row(prompt="second", created_at=DAY2, provider="karlo", model="karlo-v2")
    other_process.insert(second)
    late = make_row(prompt="late but older", created_at=DAY1 - timedelta(hours=1))  # committed last, happened first
    ledger.insert(late)
    current = snap.current()
    assert list(current["id"]) == [second.id, first.id, late.id]  # newest first, nothing missed
    assert isinstance(current["provider"].dtype, pd.CategoricalDtype) and set(current["provider"]) == {"openai", "karlo"}
    assert str(current["created_at"].dtype) == "datetime64[us, UTC]" and current["n_images"].dtype == "Int64"

    other_process.delete([first.id])
    assert list(snap.current()["id"]) == [second.id, late.id]
    assert snap.current() is snap.current()  # no change, no reload


def test_select_by_dates_text_and_values(ledger):
    rows = report.snapshot(ledger).current()
    assert len(report.select(rows, since=DAY2.date())) == 2
    assert len(report.select(rows, until=DAY1.date())) == 2  # a date includes that whole day
    assert len(report.select(rows, text="LIGHTHOUSE")) == 4
    assert report.select(rows, text="no such words").empty
    assert len(report.select(rows, since=DAY2.date(), chosen={"provider": ["karlo"]})) == 1


def test_export_has_every_column_of_the_chosen_rows_only(ledger):
    import io

    chosen = report.apply_filters(report.load(ledger, since=None), {"provider": ["openai"], "status": ["ok"]})
    exported = report.export_frame(ledger, chosen)
    assert set(exported["id"]) == set(chosen["id"]) and len(exported) == 2
    csv = pd.read_csv(io.BytesIO(report.to_csv(exported)))
    assert list(csv.columns) == list(exported.columns) and "params" in csv.columns and "error_message" in csv.columns
    parquet = pd.read_parquet(io.BytesIO(report.to_parquet(exported)))
    assert len(parquet) == 2 and str(parquet["created_at"].dtype).endswith("UTC]")
