"""The ledger page's data: an in-memory snapshot of every row, filters on it, and the figures and chart data.

The snapshot loads the list columns of the whole ledger once per process and
afterwards reads only rows added since (``Ledger.version``/``scan``), so a
page run filters and aggregates in pandas without going back to SQLite.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable

import numpy as np
import pandas as pd

from lib.store.ledger import Ledger, to_utc

# What figures, charts and filters need for every row; the table's page adds prompt and
# thumbnail (see page_details) and the full record comes from ledger.get(id).
LIST_COLUMNS = [
    "id", "created_at", "page", "action", "provider", "backend", "model", "status",
    "n_images", "input_tokens", "output_tokens", "cost_usd", "cost_source", "latency_ms",
]
FILTER_COLUMNS = ("page", "action", "provider", "model", "backend", "status")


class Snapshot:
    """Every ledger row's list columns, newest first, brought up to date on each ``current()``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._frame: pd.DataFrame | None = None
        self._version: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def current(self) -> pd.DataFrame:
        """The rows as of now; treat the frame as read-only (it is shared)."""
        with self._lock:
            version = self.ledger.version()
            if self._frame is None or self._version is None or version[0] != self._version[0]:
                self._frame = self.ledger.scan(LIST_COLUMNS)  # first use, or rows were deleted
            elif version[1] != self._version[1]:
                newer = self.ledger.scan(LIST_COLUMNS, after_rowid=self._version[1])
                self._frame = _stack(newer, self._frame)
            self._version = version
            return self._frame


def _stack(newer: pd.DataFrame, older: pd.DataFrame) -> pd.DataFrame:
    """``newer`` on top of ``older`` keeping dtypes (categories are merged, not turned into text)."""
    if newer.empty:
        return older
    if older.empty:
        return newer
    merged = {}
    for col in older.columns:
        top, bottom = newer[col], older[col]
        if isinstance(bottom.dtype, pd.CategoricalDtype):
            categories = bottom.cat.categories.union(top.cat.categories).astype(str)
            top, bottom = top.cat.set_categories(categories), bottom.cat.set_categories(categories)
        merged[col] = pd.concat([top, bottom], ignore_index=True)
    frame = pd.DataFrame(merged)
    if not frame["created_at"].is_monotonic_decreasing:
        frame = frame.sort_values(["created_at", "id"], ascending=False, ignore_index=True, kind="stable")
    return frame


_snapshots: dict[str, Snapshot] = {}
_snapshots_lock = threading.Lock()


def snapshot(ledger: Ledger) -> Snapshot:
    """The process-wide snapshot of this ledger file."""
    with _snapshots_lock:
        found = _snapshots.get(str(ledger.path))
        if found is None or found.ledger is not ledger:
            found = _snapshots[str(ledger.path)] = Snapshot(ledger)
        return found


def select(
    frame: pd.DataFrame,
    *,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    text: str | None = None,
    chosen: dict[str, Iterable[str] | None] | None = None,
) -> pd.DataFrame:
    """The rows in a date range (a plain ``until`` date includes that day), whose prompts contain
    ``text`` (any case), and whose columns hold one of the chosen values (empty choice = all)."""
    keep = np.ones(len(frame), dtype=bool)
    if since is not None:
        keep &= (frame["created_at"] >= pd.Timestamp(to_utc(since))).to_numpy()
    if until is not None:
        end = to_utc(until) + (timedelta(days=1) if not isinstance(until, datetime) else timedelta(0))
        keep &= (frame["created_at"] < pd.Timestamp(end)).to_numpy()
    for col, values in (chosen or {}).items():
        values = list(values or [])
        if values:
            keep &= frame[col].isin(values).to_numpy()
    if text and text.strip():
        keep &= frame["search"].str.contains(text.strip().lower(), regex=False, na=False).to_numpy()  # search is lower-case
    return frame[keep]


def load(ledger: Ledger, *, since=None, until=None, text: str | None = None) -> pd.DataFrame:
    """The list columns of the rows in a date range whose prompts contain ``text``, newest first."""
    return select(snapshot(ledger).current(), since=since, until=until, text=text)


def options(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The values present per filter column, for the filter widgets."""
    return {col: sorted(str(v) for v in frame[col].dropna().unique()) for col in FILTER_COLUMNS}


def apply_filters(frame: pd.DataFrame, chosen: dict[str, Iterable[str] | None]) -> pd.DataFrame:
    """Keep rows whose column value is among the chosen ones; an empty or missing choice means all."""
    return select(frame, chosen=chosen)


@dataclass
class Figures:
    calls: int
    spend_usd: float
    unpriced_calls: int
    images: int
    input_tokens: int
    output_tokens: int
    error_rate: float | None  # share of calls that did not end "ok"; None for no calls
    p50_latency_ms: float | None
    p95_latency_ms: float | None


def figures(frame: pd.DataFrame, *, live_only: bool = True) -> Figures:
    """The numbers at the top of the page; spend counts live rows only unless ``live_only=False``."""
    priced = frame[frame["backend"] == "live"] if live_only else frame
    latency = frame["latency_ms"].dropna()
    calls = len(frame)
    return Figures(
        calls=calls,
        spend_usd=float(priced["cost_usd"].sum(skipna=True)),
        unpriced_calls=int(frame["cost_usd"].isna().sum()),
        images=int(frame["n_images"].sum(skipna=True)),
        input_tokens=int(frame["input_tokens"].sum(skipna=True)),
        output_tokens=int(frame["output_tokens"].sum(skipna=True)),
        error_rate=float((frame["status"] != "ok").mean()) if calls else None,
        p50_latency_ms=float(latency.quantile(0.5)) if len(latency) else None,
        p95_latency_ms=float(latency.quantile(0.95)) if len(latency) else None,
    )


def spend_per_day(frame: pd.DataFrame, *, live_only: bool = True) -> pd.DataFrame:
    """USD per UTC day (rows) and provider (columns); days without spend are absent."""
    priced = frame[frame["backend"] == "live"] if live_only else frame
    priced = priced[priced["cost_usd"].notna()]
    if priced.empty:
        return pd.DataFrame()
    day = priced["created_at"].dt.floor("D").dt.tz_localize(None).rename("day")
    table = priced.groupby([day, priced["provider"].astype(str)], observed=True)["cost_usd"].sum().unstack(fill_value=0.0)
    return table.sort_index()


def calls_by_model(frame: pd.DataFrame) -> pd.DataFrame:
    """Calls per model, ok and failed apart, busiest model first."""
    if frame.empty:
        return pd.DataFrame()
    outcome = np.where(frame["status"].to_numpy() == "ok", "ok", "failed")
    model = frame["model"].astype(str).fillna("(none)")
    table = pd.crosstab(model, outcome)
    table = table.reindex(columns=[c for c in ("ok", "failed") if c in table.columns])
    return table.loc[table.sum(axis=1).sort_values(ascending=False).index]


def latency_histogram(frame: pd.DataFrame, bins: int = 20) -> pd.DataFrame:
    """How many calls took how long: one row per latency bin, ``seconds`` being the bin's lower edge."""
    latency = frame["latency_ms"].dropna().to_numpy(dtype=float)
    if latency.size == 0:
        return pd.DataFrame()
    counts, edges = np.histogram(latency / 1000.0, bins=bins)
    return pd.DataFrame({"seconds": np.round(edges[:-1], 3), "calls": counts})


def chart_frames(frame: pd.DataFrame, *, live_only: bool = True) -> dict[str, pd.DataFrame]:
    return {
        "spend_per_day": spend_per_day(frame, live_only=live_only),
        "calls_by_model": calls_by_model(frame),
        "latency": latency_histogram(frame),
    }


def page_details(ledger: Ledger, ids: list[str]) -> dict[str, dict[str, str | None]]:
    """For one page of the table: row id -> {"prompt", "image"} where image is the sha of the first
    output image (or first input, for rows without outputs) or None."""
    details = {}
    for row_id, raw in ledger.lookup(ids, ["prompt", "output_refs", "input_refs"]).items():
        shas = json.loads(raw["output_refs"] or "[]") or json.loads(raw["input_refs"] or "[]")
        details[row_id] = {"prompt": raw["prompt"], "image": shas[0] if shas else None}
    return details


def export_frame(ledger: Ledger, rows: pd.DataFrame, *, since=None, until=None) -> pd.DataFrame:
    """Every column of the chosen ``rows`` (JSON columns as text), newest first, for CSV/Parquet export."""
    full = ledger.frame(since=since, until=until)
    return full[full["id"].isin(set(rows["id"]))].reset_index(drop=True)


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def to_parquet(frame: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
