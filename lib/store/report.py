"""The ledger page's data, asked of SQLite for just what one page run shows: figures, chart data, filter choices, one table page.

Figures, spend per day and calls by model come from per-day totals (``Ledger.daily_totals``:
a few thousand rows kept by triggers, or the matching calls grouped when searching prompts),
filtered and summed here in pandas; latency figures from the chosen calls' latencies; the
table from one ``LIMIT``/``OFFSET`` page.  Nothing reads every row unless an export asks.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable

import numpy as np
import pandas as pd

from lib.spreadsheet import formula_safe_frame
from lib.store.ledger import Ledger

FILTER_COLUMNS = ("page", "action", "provider", "model", "backend", "status")
_LEDGER_FILTERS = {"page": "pages", "action": "actions", "provider": "providers", "model": "models",
                   "backend": "backends", "status": "statuses"}  # Ledger.frame's keyword per column
TABLE_COLUMNS = [
    "id", "created_at", "page", "action", "provider", "backend", "model", "status",
    "n_images", "input_tokens", "output_tokens", "cost_usd", "cost_source", "latency_ms", "prompt", "person",
]
# whose key paid (LedgerRow.key_source), as the table says it
PAID_BY = {"sidebar": "own key", "environment": "team key", "secrets.toml": "team key", "demo": "demo"}


def _day(moment: date | None) -> date | None:
    """Whole UTC days: the page picks dates, and the running totals are kept per day."""
    return moment.date() if isinstance(moment, datetime) else moment


# Longer searches are cut: no prompt search needs more, and SQLite refuses LIKE patterns over 50,000 bytes.
SEARCH_MAX_CHARS = 500


def search_text(raw: str | None) -> tuple[str | None, str | None]:
    """The search as it will be run, and a sentence when it had to be shortened."""
    text = (raw or "").strip() or None
    if text is None or len(text) <= SEARCH_MAX_CHARS:
        return text, None
    return text[:SEARCH_MAX_CHARS], (f"The search was {len(text):,} characters long; only its first "
                                     f"{SEARCH_MAX_CHARS} are used.")


@dataclass(frozen=True)
class Selection:
    """Which calls: UTC days ``since``..``until`` (both included), prompt text, and chosen values per column
    (an empty or missing choice means all); ``person``: only that person's rows in the table and exports
    (a member's view; figures and charts stay the team's)."""

    since: date | None = None
    until: date | None = None
    text: str | None = None
    chosen: dict[str, list[str]] = field(default_factory=dict)
    person: str | None = None

    def filters(self, *, own: bool = False) -> dict:
        """The same selection as ``Ledger.frame`` keywords; with ``own``, only ``person``'s rows."""
        found = {"since": _day(self.since), "until": _day(self.until), "text": self.text or None}
        if own and self.person is not None:
            found["persons"] = [self.person]
        for col, values in self.chosen.items():
            if values:
                found[_LEDGER_FILTERS[col]] = list(values)
        return found


def totals(ledger: Ledger, selection: Selection) -> pd.DataFrame:
    """Per-day totals (see ``Ledger.daily_totals``) for the selection's days and text, before value choices:
    the filter widgets offer what these contain."""
    return ledger.daily_totals(since=_day(selection.since), until=_day(selection.until), text=selection.text)


def options(totals_frame: pd.DataFrame) -> dict[str, list[str]]:
    """The values present per filter column, for the filter widgets."""
    return {col: sorted(str(v) for v in totals_frame[col].dropna().unique()) for col in FILTER_COLUMNS}


def apply_filters(frame: pd.DataFrame, chosen: dict[str, Iterable[str] | None]) -> pd.DataFrame:
    """Keep rows whose column value is among the chosen ones; an empty or missing choice means all."""
    keep = np.ones(len(frame), dtype=bool)
    for col, values in (chosen or {}).items():
        values = list(values or [])
        if values:
            keep &= frame[col].isin(values).to_numpy()
    return frame[keep]


def latencies(ledger: Ledger, selection: Selection, chosen_totals: pd.DataFrame) -> np.ndarray:
    """Latency (ms) of every chosen call that has one: from ``chosen_totals`` (the selection's totals after
    ``apply_filters``) when a prompt search already read them with the matching calls, else from the ledger."""
    if "latency_ms" in chosen_totals:
        return np.concatenate([np.empty(0), *chosen_totals["latency_ms"]])
    return ledger.latencies(**selection.filters())


@dataclass
class Figures:
    calls: int
    spend_usd: float
    unpriced_calls: int
    images: int
    input_tokens: int
    output_tokens: int
    error_rate: float | None  # share of settled calls that did not end "ok"; None for none
    p50_latency_ms: float | None
    p95_latency_ms: float | None


def _priced(frame: pd.DataFrame, live_only: bool) -> pd.DataFrame:
    return frame[frame["backend"] == "live"] if live_only else frame


def figures(totals_frame: pd.DataFrame, latency_ms: np.ndarray, *, live_only: bool = True) -> Figures:
    """The numbers at the top of the page; spend counts live rows only unless ``live_only=False``."""
    calls = int(totals_frame["calls"].sum())
    failed = int(totals_frame.loc[~totals_frame["status"].isin(["ok", "pending"]), "calls"].sum())  # in flight: not failed yet
    settled = calls - int(totals_frame.loc[totals_frame["status"] == "pending", "calls"].sum())
    return Figures(
        calls=calls,
        spend_usd=round(float(_priced(totals_frame, live_only)["cost_usd"].sum()), 9),  # whole nano-dollars
        unpriced_calls=calls - int(totals_frame["priced_calls"].sum()),
        images=int(totals_frame["n_images"].sum()),
        input_tokens=int(totals_frame["input_tokens"].sum()),
        output_tokens=int(totals_frame["output_tokens"].sum()),
        error_rate=failed / settled if settled else None,
        p50_latency_ms=float(np.quantile(latency_ms, 0.5)) if len(latency_ms) else None,
        p95_latency_ms=float(np.quantile(latency_ms, 0.95)) if len(latency_ms) else None,
    )


def spend_per_day(totals_frame: pd.DataFrame, *, live_only: bool = True) -> pd.DataFrame:
    """USD per UTC day (rows) and provider (columns); days without priced calls are absent."""
    priced = _priced(totals_frame, live_only)
    priced = priced[priced["priced_calls"] > 0]
    if priced.empty:
        return pd.DataFrame()
    table = priced.groupby(["day", "provider"])["cost_usd"].sum().unstack(fill_value=0.0)
    table.index.name, table.columns.name = "day", None
    return table.sort_index()


def calls_by_model(totals_frame: pd.DataFrame) -> pd.DataFrame:
    """Calls per model, ok and failed apart, busiest model first."""
    if totals_frame.empty:
        return pd.DataFrame()
    outcome = np.where(totals_frame["status"].to_numpy() == "ok", "ok", "failed")
    model = totals_frame["model"].fillna("(none)").rename("model")
    table = totals_frame["calls"].groupby([model, outcome]).sum().unstack(fill_value=0)
    table = table.reindex(columns=[c for c in ("ok", "failed") if c in table.columns])
    table.columns.name = None
    return table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]


def latency_histogram(latency_ms: np.ndarray, bins: int = 20) -> pd.DataFrame:
    """How many calls took how long: one row per latency bin, ``seconds`` being the bin's lower edge."""
    if len(latency_ms) == 0:
        return pd.DataFrame()
    counts, edges = np.histogram(np.asarray(latency_ms, dtype=float) / 1000.0, bins=bins)
    return pd.DataFrame({"seconds": np.round(edges[:-1], 3), "calls": counts})


def chart_frames(totals_frame: pd.DataFrame, latency_ms: np.ndarray, *, live_only: bool = True) -> dict[str, pd.DataFrame]:
    return {
        "spend_per_day": spend_per_day(totals_frame, live_only=live_only),
        "calls_by_model": calls_by_model(totals_frame),
        "latency": latency_histogram(latency_ms),
    }


def table_page(ledger: Ledger, selection: Selection, page_no: int, page_size: int) -> pd.DataFrame:
    """One page of the chosen calls, newest first: the table's columns, and ``image``, the sha of the first
    output image (or first input, for calls without outputs) or None."""
    rows = ledger.newest([*TABLE_COLUMNS, "key_source", "output_refs", "input_refs"], limit=page_size,
                         offset=(max(1, page_no) - 1) * page_size, **selection.filters(own=True))
    first_images = [
        (json.loads(outputs or "[]") or json.loads(inputs or "[]") or [None])[0]
        for outputs, inputs in zip(rows.pop("output_refs"), rows.pop("input_refs"))
    ]
    rows["image"] = pd.Series(first_images, index=rows.index, dtype=object)  # None stays None, not NaN
    rows["paid_by"] = rows.pop("key_source").map(PAID_BY)
    return rows


def export_frame(ledger: Ledger, selection: Selection) -> pd.DataFrame:
    """Every column of every chosen call (JSON columns as text), newest first, for CSV/Parquet export."""
    return ledger.frame(**selection.filters(own=True))


def own_count(ledger: Ledger, selection: Selection) -> int | None:
    """How many chosen calls are the selection's person's (``None`` when it shows everyone's)."""
    if selection.person is None:
        return None
    return ledger.count(**selection.filters(own=True))


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV whose text cells a spreadsheet reads as text, never as a formula (lib.spreadsheet).

    RFC 4180 line ends: with them a cell holding a bare carriage return is quoted, so no spreadsheet splits
    it into a new row that starts with the rest of the text."""
    return formula_safe_frame(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
