"""Figures and chart data for a slice of the ledger (pure pandas; the ledger page draws them)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import numpy as np
import pandas as pd

from lib.store.ledger import Ledger

# What figures, charts and filters need for every row in range; the table's page adds prompt and
# thumbnail (see page_details) and the full record comes from ledger.get(id).
LIST_COLUMNS = [
    "id", "created_at", "page", "action", "provider", "backend", "model", "status",
    "n_images", "input_tokens", "output_tokens", "cost_usd", "cost_source", "latency_ms",
]
FILTER_COLUMNS = ("page", "action", "provider", "model", "backend", "status")


def load(ledger: Ledger, *, since: datetime | None, until=None, text: str | None = None) -> pd.DataFrame:
    """The rows of a date range (and prompt search), newest first, list columns only."""
    return ledger.frame(columns=LIST_COLUMNS, since=since, until=until, text=text or None)


def options(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The values present per filter column, for the filter widgets."""
    return {col: sorted(str(v) for v in frame[col].dropna().unique()) for col in FILTER_COLUMNS}


def apply_filters(frame: pd.DataFrame, chosen: dict[str, Iterable[str] | None]) -> pd.DataFrame:
    """Keep rows whose column value is among the chosen ones; an empty or missing choice means all."""
    keep = np.ones(len(frame), dtype=bool)
    for col, values in chosen.items():
        values = list(values or [])
        if values:
            keep &= frame[col].isin(values).to_numpy()
    return frame[keep]


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
