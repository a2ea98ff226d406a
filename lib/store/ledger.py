"""The usage ledger: one SQLite row per provider call, plus compare votes and app settings, read back as pandas.

SQLite runs in WAL mode with a busy timeout and one connection per thread, so
many Streamlit sessions and worker threads can write at once without losing a
row.  The schema lives in numbered ``migrations/NNN_*.sql`` files applied in
order and tracked in ``PRAGMA user_version``.  Only this module speaks SQL, so a
later move to PostgreSQL (SQLAlchemy Core) replaces this file and nothing else.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd

from lib import clock
from lib.store.images import StoreUnavailable

if TYPE_CHECKING:
    from lib.store.images import ImageStore

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 30_000
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order
_GENERATION_KEY = "ledger_deletions"  # a settings row counting deletes, part of version()


@dataclass
class LedgerRow:
    """One provider call as the ledger keeps it (see docs/contracts.md)."""

    id: str
    created_at: datetime  # UTC, tz-aware
    page: str
    action: str
    provider: str
    backend: str  # live | demo
    status: str = "ok"  # ok | error | rejected | cancelled
    cost_source: str = "unpriced"  # reported | computed | table | unpriced
    group_id: str | None = None
    endpoint: str | None = None
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    negative_prompt: str | None = None
    revised_prompt: str | None = None
    input_refs: list[str] = field(default_factory=list)
    mask_ref: str | None = None
    output_text: str | None = None
    output_refs: list[str] = field(default_factory=list)
    n_images: int | None = None
    width: int | None = None
    height: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    usage_detail: dict[str, Any] = field(default_factory=dict)
    cost_usd: float | None = None  # None when unpriced, never a silent 0
    latency_ms: float | None = None
    ttft_ms: float | None = None
    http_status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_detail: str | None = None
    request_id: str | None = None
    app_version: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


COLUMNS = [f.name for f in fields(LedgerRow)]
_JSON_COLUMNS = {"params": dict, "input_refs": list, "output_refs": list, "usage_detail": dict}
_INT_COLUMNS = ["n_images", "width", "height", "input_tokens", "output_tokens", "http_status"]
_FLOAT_COLUMNS = ["cost_usd", "latency_ms", "ttft_ms"]
_CATEGORY_COLUMNS = ["page", "action", "provider", "backend", "endpoint", "model", "cost_source", "status", "error_code"]


def new_id(now: float | None = None) -> str:
    """A uuid7-layout id: 48 bits of Unix milliseconds then random bits, so ids sort by creation time."""
    ms = int((time.time() if now is None else now) * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def utc_now() -> datetime:
    return clock.now()


def to_utc(moment: datetime | date | str | pd.Timestamp) -> datetime:
    """A tz-aware UTC datetime; a plain date means its midnight UTC, a naive datetime is taken as UTC."""
    if isinstance(moment, str):
        moment = pd.Timestamp(moment).to_pydatetime()
    if isinstance(moment, pd.Timestamp):
        moment = moment.to_pydatetime()
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, dtime.min)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _ts(moment: datetime | date | str) -> str:
    return to_utc(moment).strftime(_TS_FORMAT)


def _split_statements(script: str) -> list[str]:
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip() and not all(l.strip().startswith("--") or not l.strip() for l in pending.splitlines()):
        statements.append(pending.strip())
    return statements


def migrations() -> list[tuple[int, str, str]]:
    """``(number, file name, sql)`` for every ``NNN_name.sql``, in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = re.match(r"(\d+)_", path.name)
        if match:
            found.append((int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"Migrations must be numbered 1..N without gaps, found {numbers}")
    return found


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


class Ledger:
    """The ledger database at ``path``; safe to share between threads."""

    def __init__(self, path: Path, images: "ImageStore | None" = None) -> None:
        self.path = Path(path)
        self.images = images  # lets delete() remove images no other row uses
        self._local = threading.local()
        self.schema_version = self._migrate()

    # --- connections and migrations -------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable across app crashes, cheap commits
            except sqlite3.Error as exc:
                raise StoreUnavailable(
                    f"Cannot open the usage ledger at {self.path} ({exc}). "
                    "Check that STUDIO_DATA_DIR points to a writable folder."
                ) from exc
            self._local.conn = conn
        return conn

    def _migrate(self) -> int:
        conn = self._connect()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"journal mode is {mode}, not wal")
            all_migrations = migrations()
            if conn.execute("PRAGMA user_version").fetchone()[0] >= len(all_migrations):
                return len(all_migrations)
            conn.execute("BEGIN IMMEDIATE")  # one migrator at a time, across processes too
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                for number, _name, sql in all_migrations:
                    if number <= version:
                        continue
                    for statement in _split_statements(sql):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreUnavailable(
                f"Cannot prepare the usage ledger at {self.path} ({exc}). "
                "Check that STUDIO_DATA_DIR points to a writable folder with free space."
            ) from exc

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _write(self, sql: str, params: Iterable[Any] = ()) -> None:
        try:
            self._connect().execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"Could not write to the usage ledger at {self.path} ({exc}).") from exc

    # --- calls ------------------------------------------------------------
    @staticmethod
    def _values(row: LedgerRow) -> list[Any]:
        values = []
        for name in COLUMNS:
            value = getattr(row, name)
            if name in _JSON_COLUMNS:
                value = json.dumps(value or _JSON_COLUMNS[name](), ensure_ascii=False, default=str, sort_keys=True)
            elif name == "created_at":
                value = _ts(value)
            values.append(value)
        return values

    _INSERT = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"

    def insert(self, row: LedgerRow) -> LedgerRow:
        self._write(self._INSERT, self._values(row))
        return row

    def insert_many(self, rows: Iterable[LedgerRow]) -> int:
        """Insert rows in one transaction (imports, benchmarks); all or nothing."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                count = conn.executemany(self._INSERT, (self._values(r) for r in rows)).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"Could not write to the usage ledger at {self.path} ({exc}).") from exc
        return count

    def version(self) -> tuple[int, int]:
        """``(deletions so far, newest rowid)``: changes whenever rows are added or deleted.

        Inserts always get a rowid above every existing one (deletes bump the first
        number instead), so a reader holding version ``(g, r)`` that sees ``(g, r2)``
        needs only the rows with a rowid above ``r``.
        """
        conn = self._connect()
        newest = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM calls").fetchone()[0]
        generation = conn.execute("SELECT value FROM settings WHERE key = ?", (_GENERATION_KEY,)).fetchone()
        return (int(generation[0]) if generation else 0), newest

    @staticmethod
    def _row(record: sqlite3.Row | tuple) -> LedgerRow:
        data = dict(zip(COLUMNS, record))
        for name, kind in _JSON_COLUMNS.items():
            data[name] = json.loads(data[name]) if data[name] else kind()
        data["created_at"] = datetime.strptime(data["created_at"], _TS_FORMAT).replace(tzinfo=timezone.utc)
        return LedgerRow(**data)

    def get(self, row_id: str) -> LedgerRow | None:
        found = self._connect().execute(f"SELECT {', '.join(COLUMNS)} FROM calls WHERE id = ?", (row_id,)).fetchone()
        return self._row(found) if found else None

    def rows(self, *, group_id: str | None = None, limit: int | None = None) -> list[LedgerRow]:
        """Rows oldest first; only one group's when ``group_id`` is given."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM calls"
        params: list[Any] = []
        if group_id is not None:
            sql += " WHERE group_id = ?"
            params.append(group_id)
        sql += " ORDER BY created_at, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._row(r) for r in self._connect().execute(sql, params).fetchall()]

    def count(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def _where(
        self,
        *,
        since=None,
        until=None,
        pages=None,
        actions=None,
        providers=None,
        models=None,
        backends=None,
        statuses=None,
        text: str | None = None,
        group_id: str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(_ts(since))
        if until is not None:
            # a plain date includes that whole day; a datetime is an exclusive end
            end = to_utc(until) + (timedelta(days=1) if not isinstance(until, datetime) else timedelta(0))
            clauses.append("created_at < ?")
            params.append(_ts(end))
        for column, wanted in (
            ("page", pages), ("action", actions), ("provider", providers),
            ("model", models), ("backend", backends), ("status", statuses),
        ):
            values = _as_list(wanted)
            if values is not None:
                if not values:
                    clauses.append("0")  # an empty choice matches nothing
                else:
                    clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                    params.extend(values)
        if text and text.strip():
            needle = "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("(prompt LIKE ? ESCAPE '\\' OR revised_prompt LIKE ? ESCAPE '\\' OR negative_prompt LIKE ? ESCAPE '\\')")
            params.extend([needle, needle, needle])
        if group_id is not None:
            clauses.append("group_id = ?")
            params.append(group_id)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def frame(self, *, limit: int | None = None, columns: Iterable[str] | None = None, **filters) -> pd.DataFrame:
        """Rows newest first as a DataFrame with real dtypes.

        Filters (all optional): ``since``/``until`` (datetime, or a date meaning that
        whole day), ``pages``, ``actions``, ``providers``, ``models``, ``backends``,
        ``statuses`` (a value or a list), ``text`` (case-insensitive, in the prompts),
        ``group_id``.  JSON columns (params, input_refs, output_refs, usage_detail)
        stay JSON text here; ``get(id)`` gives them parsed.  ``columns`` picks a
        subset (faster on big ledgers).
        """
        chosen = list(columns) if columns is not None else COLUMNS
        unknown = set(chosen) - set(COLUMNS)
        if unknown:
            raise ValueError(f"No such ledger columns: {sorted(unknown)}")
        where, params = self._where(**filters)
        sql = f"SELECT {', '.join(chosen)} FROM calls{where} ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        records = self._connect().execute(sql, params).fetchall()
        return _typed_frame(records, chosen)

    def newest(self, columns: Iterable[str], *, limit: int, offset: int = 0, **filters) -> pd.DataFrame:
        """One page of a table: ``limit`` rows after the newest ``offset`` that ``filters`` keep (as for
        ``frame``), newest first.  Walks the time index, so the first pages cost next to nothing whatever
        the filters (the planner would otherwise pick the provider index and sort every row it matches)."""
        chosen = list(columns)
        unknown = set(chosen) - set(COLUMNS)
        if unknown:
            raise ValueError(f"No such ledger columns: {sorted(unknown)}")
        where, params = self._where(**filters)
        sql = (f"SELECT {', '.join(chosen)} FROM calls INDEXED BY calls_created_at{where} "
               f"ORDER BY created_at DESC, id DESC LIMIT {int(limit)} OFFSET {int(offset)}")
        return _typed_frame(self._connect().execute(sql, params).fetchall(), chosen)

    # The keys of calls_daily (migration 003), which triggers keep in step with every insert and delete.
    _DAILY_KEYS = ["page", "action", "provider", "model", "backend", "status"]
    _DAILY_TOTALS = ["calls", "priced_calls", "cost_usd", "n_images", "input_tokens", "output_tokens"]

    def daily_totals(self, *, since: date | None = None, until: date | None = None, text: str | None = None) -> pd.DataFrame:
        """Calls, priced calls, cost (USD, unpriced calls add nothing), images and tokens per UTC ``day`` and
        page, action, provider, model (``None`` when absent), backend and status, for the whole days
        ``since``..``until`` (both included) and, with ``text``, only calls whose prompts contain it (as for
        ``frame``: SQL LIKE, so ASCII letters match in any case; % and _ are literal).

        Without ``text`` this reads the running totals (a few rows per day); with it, the matching calls,
        and then also gives ``latency_ms``: each group's known latencies as an array, so that a search reads
        the matching calls only once (without ``text``, ask ``latencies()``).
        """
        if isinstance(since, datetime) or isinstance(until, datetime):
            raise TypeError("daily_totals counts whole UTC days: pass dates, not datetimes")
        if text and text.strip():
            # Walks calls_by_day (migration 005): the matches arrive grouped, so nothing is sorted.
            keys = "substr(created_at, 1, 10), page, action, provider, model, backend, status"
            where, params = self._where(since=since, until=until, text=text)
            for bound, op in ((since, ">="), (until, "<=")):
                if bound is not None:  # the same days again, in the index's own terms
                    where += f" AND substr(created_at, 1, 10) {op} ?"
                    params.append(bound.isoformat())
            sql = (
                f"SELECT {keys}, COUNT(*), COUNT(cost_usd), COALESCE(SUM(cost_usd), 0.0), COALESCE(SUM(n_images), 0), "
                f"COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COUNT(latency_ms), group_concat(latency_ms) "
                f"FROM calls INDEXED BY calls_by_day{where} GROUP BY {keys}"
            )
        else:
            clauses, params = [], []
            if since is not None:
                clauses.append("day >= ?")
                params.append(since.isoformat())
            if until is not None:
                clauses.append("day <= ?")
                params.append(until.isoformat())
            sql = (
                f"SELECT day, {', '.join(self._DAILY_KEYS)}, calls, priced_calls, cost_nano_usd / 1e9, n_images, "
                "input_tokens, output_tokens FROM calls_daily" + ((" WHERE " + " AND ".join(clauses)) if clauses else "")
            )
        records = self._connect().execute(sql, params).fetchall()
        searched = bool(text and text.strip())
        if searched:  # group_concat wrote each group's latencies as "812.5,1043.0,...": parse them all at once
            joined = ",".join(record[-1] for record in records if record[-1])
            every = np.fromstring(joined, sep=",") if joined else np.empty(0)
            counts = np.array([record[-2] for record in records], dtype=np.int64)  # COUNT(latency_ms) per group
            groups = np.split(every, np.cumsum(counts)[:-1]) if records else []
            records = [(*record[:-2], group) for record, group in zip(records, groups)]
        columns = ["day", *self._DAILY_KEYS, *self._DAILY_TOTALS, *(["latency_ms"] if searched else [])]
        totals = pd.DataFrame.from_records(records, columns=columns)
        totals["day"] = pd.to_datetime(totals["day"], format="%Y-%m-%d")
        totals["model"] = totals["model"].replace("", None)  # calls_daily keeps a missing model as ''
        for name in self._DAILY_TOTALS:
            totals[name] = totals[name].astype("float64" if name == "cost_usd" else "int64")
        return totals

    def latencies(self, **filters) -> np.ndarray:
        """The known latencies (ms) of the rows ``filters`` keep (as for ``frame``), in no set order."""
        where, params = self._where(**filters)
        where += (" AND " if where else " WHERE ") + "latency_ms IS NOT NULL"
        for bound, op in ((filters.get("since"), ">="), (filters.get("until"), "<=")):
            if bound is not None:  # the same days again, in calls_by_day's own terms, so it seeks to them
                where += f" AND substr(created_at, 1, 10) {op} ?"
                params.append(to_utc(bound).date().isoformat())
        # calls_by_day (migration 005) holds every filter column but the prompts: reading it beats the
        # planner's own pick (an equality index, then every wide row) several times on a big ledger.
        cursor = self._connect().execute(f"SELECT latency_ms FROM calls INDEXED BY calls_by_day{where}", params)
        return np.fromiter((record[0] for record in cursor), dtype=float)

    def spend(self, since=None, backend: str | None = "live", until=None, provider: str | None = None) -> float:
        """Total priced cost in USD (unpriced rows add nothing); live rows only unless ``backend=None``."""
        where, params = self._where(
            since=since, until=until,
            backends=None if backend is None else [backend],
            providers=None if provider is None else [provider],
        )
        total = self._connect().execute(f"SELECT SUM(cost_usd) FROM calls{where}", params).fetchone()[0]
        return float(total or 0.0)

    def count_images(self, provider: str, since=None, backend: str | None = "live") -> int:
        """Images a provider produced successfully since ``since`` (Karlo's free quota counts these)."""
        where, params = self._where(
            since=since, providers=[provider], statuses=["ok"], backends=None if backend is None else [backend]
        )
        total = self._connect().execute(f"SELECT SUM(n_images) FROM calls{where}", params).fetchone()[0]
        return int(total or 0)

    def refs(self, row: LedgerRow) -> list[str]:
        return [*row.input_refs, *([row.mask_ref] if row.mask_ref else []), *row.output_refs]

    def delete(self, ids: Iterable[str]) -> list[str]:
        """Delete these rows, then the images no remaining row names; returns the removed images' shas."""
        ids = list(ids)
        if not ids:
            return []
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                candidates: set[str] = set()
                for chunk_start in range(0, len(ids), 500):
                    chunk = ids[chunk_start:chunk_start + 500]
                    marks = ", ".join("?" for _ in chunk)
                    for inputs, mask, outputs in conn.execute(
                        f"SELECT input_refs, mask_ref, output_refs FROM calls WHERE id IN ({marks})", chunk
                    ):
                        candidates.update(json.loads(inputs or "[]"))
                        candidates.update(json.loads(outputs or "[]"))
                        if mask:
                            candidates.add(mask)
                    conn.execute(f"DELETE FROM calls WHERE id IN ({marks})", chunk)
                conn.execute(  # part of version(): a delete changes what any reader saw
                    "INSERT INTO settings (key, value, updated_at) VALUES (?, '1', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1, updated_at = excluded.updated_at",
                    (_GENERATION_KEY, _ts(utc_now())),
                )
                orphans = [
                    sha for sha in sorted(candidates)
                    if conn.execute(
                        "SELECT 1 FROM calls WHERE mask_ref = ? OR instr(input_refs, ?) OR instr(output_refs, ?) LIMIT 1",
                        (sha, sha, sha),
                    ).fetchone() is None
                ]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"Could not delete from the usage ledger at {self.path} ({exc}).") from exc
        if self.images is not None:
            for sha in orphans:
                self.images.delete(sha)
        return orphans

    # --- votes ------------------------------------------------------------
    def add_vote(self, group_id: str, prompt: str | None, winner: str, targets: list[str]) -> str:
        """Record a compare vote; ``winner`` is a target label, ``"tie"`` or ``"both bad"``."""
        vote_id = new_id()
        self._write(
            "INSERT INTO votes (id, created_at, group_id, prompt, winner, targets) VALUES (?, ?, ?, ?, ?, ?)",
            (vote_id, _ts(utc_now()), group_id, prompt, winner, json.dumps(list(targets), ensure_ascii=False)),
        )
        return vote_id

    def votes_frame(self) -> pd.DataFrame:
        """Every vote, oldest first; ``targets`` parsed to lists."""
        records = self._connect().execute(
            "SELECT id, created_at, group_id, prompt, winner, targets FROM votes ORDER BY created_at, id"
        ).fetchall()
        votes = pd.DataFrame.from_records(records, columns=["id", "created_at", "group_id", "prompt", "winner", "targets"])
        votes["created_at"] = pd.to_datetime(votes["created_at"], format=_TS_FORMAT, utc=True)
        votes["targets"] = votes["targets"].map(json.loads)
        return votes

    # --- settings ---------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        found = self._connect().execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(found[0]) if found else default

    def set_setting(self, key: str, value: Any) -> None:
        self._write(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, json.dumps(value, ensure_ascii=False), _ts(utc_now())),
        )


def _typed_frame(records: list[tuple], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=columns)
    for name in columns:
        if name == "created_at":
            frame[name] = pd.to_datetime(frame[name], format="ISO8601", utc=True).astype("datetime64[us, UTC]")  # fast path
        elif name == "rowid":
            frame[name] = frame[name].astype("int64")
        elif name in _INT_COLUMNS:
            frame[name] = pd.array(frame[name].tolist(), dtype="Int64")
        elif name in _FLOAT_COLUMNS:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        elif name in _CATEGORY_COLUMNS:
            frame[name] = frame[name].astype("category")
        else:
            frame[name] = frame[name].astype("str")  # missing stays missing (NaN), not the text "None"
    return frame


def row_dict(row: LedgerRow) -> dict[str, Any]:
    """A LedgerRow as plain JSON-able data (created_at as ISO text)."""
    data = asdict(row)
    data["created_at"] = _ts(row.created_at)
    return data
