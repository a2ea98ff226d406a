"""The usage ledger: one row per provider call, plus compare votes and app settings, read back as pandas.

The database is SQLite in the data folder (WAL, a busy timeout, pooled connections) or PostgreSQL
(``STUDIO_DATABASE_URL``), both through SQLAlchemy (``lib.store.db``); many sessions, worker threads,
processes and replicas write at once without losing or doubling a row.  A call is written as
``pending`` before it goes out (``begin``) and settled after (``settle``); a pending row whose process
died, or whose deadline has passed, is settled as ``interrupted`` (``settle_interrupted``: when the ledger is
opened, and every few seconds by ``lib.store.sweeper``).  Only this module and ``db`` speak SQL.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd

from lib import clock, limits
from lib.errors import QuotaExceeded
from lib.people import NotAllowed, Person, may_change
from lib.store.db import Database, migrations  # noqa: F401  (migrations: re-exported for tests)
from lib.store.images import StoreUnavailable

if TYPE_CHECKING:
    from lib.store.images import ImageStore

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order
_GENERATION_KEY = "ledger_deletions"  # a settings row counting deletes, part of version()
_BUDGET_LOCK = 7_215_300_003  # pg_advisory_xact_lock key: one hard-budget check at a time, across replicas
# Rows written before deadlines were kept (migration 009): no call runs this long (every timeout is far shorter),
# so a row pending longer has lost its process, even one on another machine, whose liveness this one cannot see.
STALE_PENDING = timedelta(minutes=30)
SEARCH_INDEX_MIN_CHARS = 3  # trigram indexes (migration 011) narrow a search from this many characters on
INTERRUPTED_MESSAGE = ("The app stopped while this call was in flight, so its outcome is unknown. "
                       "The provider may have billed it; its estimated cost still counts against the budget.")
_PROCESS_TOKEN = os.urandom(6).hex()


def _new_process_token() -> None:
    global _PROCESS_TOKEN
    _PROCESS_TOKEN = os.urandom(6).hex()


os.register_at_fork(after_in_child=_new_process_token)


def _pid_namespace() -> str:
    """Which set of pids this process lives among (containers on one host share its name, not its pids)."""
    try:
        return "".join(ch for ch in os.readlink("/proc/self/ns/pid") if ch.isdigit())
    except OSError:
        return ""


_PID_NAMESPACE = _pid_namespace()


def owner_token() -> str:
    """Which process sends a call: ``host:pid:token:pidns`` (the token tells this life of the pid from an earlier
    one; pidns tells two containers with the host's name apart, whose pids mean different processes)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_TOKEN}:{_PID_NAMESPACE}"


def _owner_gone(owner: str | None) -> bool:
    """True when ``owner`` was a process among this one's pids (same host and pid namespace) that no longer runs."""
    host, _, rest = (owner or "").partition(":")
    pid_text, _, rest = rest.partition(":")
    token, _, namespace = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or (namespace and namespace != _PID_NAMESPACE):
        return not owner  # a pending row without an owner has no one to settle it
    pid = int(pid_text)
    if pid == os.getpid():
        return token != _PROCESS_TOKEN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class BudgetExceeded(QuotaExceeded):
    """The monthly budget is a hard limit and this call could pass it: it is not sent."""

    status_label = "rejected"  # refused before sending, like our own input checks


def _over_budget(spent: float, reserve: float | None, limit: float, *, own: bool = False) -> str:
    """Which budget is spent, in words, and who can raise it."""
    cost = f"could cost about ${reserve:,.2f}, and " if reserve else ""
    spender, budget = ("your", "your own") if own else ("the team's", "the team's")
    return (f"Not sent: this call {cost}{spender} live spend this month (with calls in flight) is already "
            f"${spent:,.2f} of {budget} ${limit:,.2f} monthly budget, which is set as a hard limit. "
            "An admin can raise it on the Usage ledger page; demo mode costs nothing.")


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
    person: str = "local"  # lib.people.Person.key of who made the call
    key_source: str | None = None  # whose key paid: sidebar (the person's own) | environment | secrets.toml (the team's) | demo

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Preset:
    """One saved thing of one person (a Chat system prompt, ...): see lib/presets.py."""

    kind: str
    person: str  # lib.people.Person.key of its owner
    name: str
    value: Any
    person_name: str | None = None  # the owner's name when saved, for admins' lists
    updated_at: datetime | None = None


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


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


class Ledger:
    """The ledger database at ``path``; safe to share between threads."""

    def __init__(self, path: Path | str | None = None, images: "ImageStore | None" = None, *, url: str | None = None) -> None:
        """The ledger in the SQLite file ``path``, or at the SQLAlchemy ``url`` (PostgreSQL or SQLite)."""
        self.db = Database(url if url is not None else Path(path))
        self.path = self.db.path  # the SQLite file, None on PostgreSQL
        self.url = url  # as given (None for a plain SQLite path): Ledger(path, url=url) opens the same one again
        self.images = images  # lets delete() remove images no other row uses
        self.schema_version = self.db.migrate()
        self.interrupted_on_open = self.settle_interrupted()
        self.closed = False

    def close(self) -> None:
        """Let go of every pooled connection (and stop being swept, see lib.store.sweeper)."""
        self.closed = True
        self.db.dispose()

    def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        return self.db.execute(sql, tuple(params))

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

    # reserved_usd, owner (migration 006) and deadline_at (009) belong to pending rows only, so they are not
    # LedgerRow fields
    _INSERT = (f"INSERT INTO calls ({', '.join(COLUMNS)}, reserved_usd, owner, deadline_at) "
               f"VALUES ({', '.join('?' for _ in COLUMNS)}, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
    _SETTLE = (f"UPDATE calls SET {', '.join(f'{c} = ?' for c in COLUMNS if c not in ('id', 'created_at'))}, "
               "reserved_usd = NULL, owner = NULL, deadline_at = NULL WHERE id = ? AND status IN ('pending', 'interrupted')")

    def insert(self, row: LedgerRow, *, conn=None) -> LedgerRow:
        """Commit ``row``.  A row with the same id already there is kept as it is and returned instead:
        a retried insert never doubles a row."""
        inserted = self.db.retrying(lambda c: c.exec_driver_sql(self.db.q(self._INSERT), (*self._values(row), None, None, None)).rowcount, conn=conn)
        return row if inserted else (self.get(row.id) or row)

    def insert_many(self, rows: Iterable[LedgerRow]) -> int:
        """Insert rows in one transaction (imports, benchmarks); all or nothing; ids already there are skipped."""
        values = [(*self._values(r), None, None, None) for r in rows]
        if not values:
            return 0
        return self.db.retrying(lambda c: c.exec_driver_sql(self.db.q(self._INSERT), values).rowcount)

    def begin(self, row: LedgerRow, *, reserve_usd: float | None = None, limit_usd: float | None = None,
              person_limit_usd: float | None = None, since: datetime | None = None,
              deadline_s: float | None = None) -> LedgerRow:
        """Commit ``row`` as ``pending`` before its call goes out, holding ``reserve_usd`` (the estimated cost).

        ``deadline_s`` (default ``lib.limits.pending_deadline_s()``): seconds after ``row.created_at`` by which
        the call is certainly over; past that any replica may settle it as ``interrupted``.

        With ``limit_usd`` (the team's hard monthly budget), the live spend since ``since`` plus what pending
        and interrupted calls hold plus this reserve must stay within it; with ``person_limit_usd`` (a hard
        budget of ``row.person``), the same for that person's own calls.  Both are checked and the row
        written in one transaction (serialised on a lock, so two replicas cannot both spend the last
        dollar); else ``BudgetExceeded`` (code ``team_budget`` or ``person_budget``) and nothing is written.
        Settle it with ``settle``.
        """
        person_limits = {row.person: person_limit_usd} if person_limit_usd is not None else None
        (found,) = self.begin_many([(row, reserve_usd, deadline_s)], limit_usd=limit_usd, person_limits=person_limits,
                                   since=since)
        if isinstance(found, BudgetExceeded):
            raise found
        return found

    def begin_many(self, rows: list[tuple[LedgerRow, float | None, float | None]], *, limit_usd: float | None = None,
                   person_limits: dict[str, float] | None = None,
                   since: datetime | None = None) -> list[LedgerRow | BudgetExceeded]:
        """``begin`` for several calls about to go out together (a Compare run), in one transaction: each
        (row, reserve_usd, deadline_s) in order either becomes a pending row or, past a hard budget (the team's
        ``limit_usd``, or its person's in ``person_limits``), the ``BudgetExceeded`` that says so (not written;
        the rows before it keep their place in the budget)."""
        found: list[LedgerRow | BudgetExceeded] = []
        own_limits = {person: limit for person, limit in (person_limits or {}).items() if limit is not None}

        def work(conn):
            found.clear()
            live = [row for row, _, _ in rows if row.backend == "live"]
            checked = bool(live) and (limit_usd is not None or any(row.person in own_limits for row in live))
            if checked and not self.db.sqlite:  # SQLite's BEGIN IMMEDIATE already lets one writer in at a time
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_BUDGET_LOCK})")
            spent = self._committed_spend(conn, since) if checked and limit_usd is not None else 0.0
            own_spent = {person: self._committed_spend(conn, since, person=person)
                         for person in {row.person for row in live} if person in own_limits} if checked else {}
            values = []
            for row, reserve_usd, deadline_s in rows:
                if checked and row.backend == "live":
                    reserve, own_limit = reserve_usd or 0.0, own_limits.get(row.person)
                    if limit_usd is not None and spent + reserve > limit_usd + 1e-9:
                        found.append(BudgetExceeded(_over_budget(spent, reserve_usd, limit_usd),
                                                    provider=row.provider, code="team_budget"))
                        continue
                    if own_limit is not None and own_spent[row.person] + reserve > own_limit + 1e-9:
                        found.append(BudgetExceeded(_over_budget(own_spent[row.person], reserve_usd, own_limit, own=True),
                                                    provider=row.provider, code="person_budget"))
                        continue
                    spent += reserve
                    if own_limit is not None:
                        own_spent[row.person] += reserve
                pending = replace(row, status="pending")  # not asdict: it deep-copies every field
                seconds = limits.pending_deadline_s() if deadline_s is None else deadline_s
                deadline = to_utc(row.created_at) + timedelta(seconds=seconds)
                values.append((*self._values(pending), reserve_usd, owner_token(), _ts(deadline)))
                found.append(pending)
            if values:
                conn.exec_driver_sql(self.db.q(self._INSERT), values)

        self.db.retrying(work)
        return list(found)

    def settle(self, row: LedgerRow, *, conn=None) -> LedgerRow:
        """Give the pending (or interrupted) row ``row.id`` its outcome; its reserve is let go.

        Idempotent: a row already settled is returned as it is; a pending row deleted meanwhile (or never
        begun) is inserted, so a billed call is never missing.  The row keeps its ``created_at``.
        """
        def work(c) -> str | None:
            """The settled row's created_at as stored, ``None`` when the row was already settled before."""
            values = [v for name, v in zip(COLUMNS, self._values(row)) if name not in ("id", "created_at")]
            updated = c.exec_driver_sql(self.db.q(self._SETTLE + " RETURNING created_at"), (*values, row.id)).fetchall()
            if updated:
                return updated[0][0]
            inserted = c.exec_driver_sql(self.db.q(self._INSERT), (*self._values(row), None, None, None)).rowcount
            return _ts(row.created_at) if inserted else None

        created_at = self.db.retrying(work, conn=conn)
        if created_at is None:  # settled before (a retried record): the row as it was first settled
            return self.get(row.id) or row
        # As written (no read back): its values are JSON-safe already (record_call), and it keeps the pending row's time.
        return replace(row, created_at=datetime.strptime(created_at, _TS_FORMAT).replace(tzinfo=timezone.utc))

    def settle_interrupted(self) -> int:
        """Settle as ``interrupted`` the pending calls that are in flight nowhere: on this host, those of a process
        that no longer runs (or an earlier life of this pid); from any host, those past their deadline (the
        call's own time limit, see ``lib.limits.pending_deadline_s``), or, for rows written before deadlines were
        kept, pending longer than ``STALE_PENDING``.  Their reserve stays counted against the budget (the
        provider may have billed them).  Run when the ledger opens and by ``lib.store.sweeper``.  How many."""
        found = self.db.fetchall(
            f"SELECT id, owner, created_at, deadline_at FROM calls{self.db.hint('calls_pending')} WHERE status = 'pending'")
        now = utc_now()
        stale_before, now_text = _ts(now - STALE_PENDING), _ts(now)
        gone = [row_id for row_id, owner, created_at, deadline_at in found
                if (deadline_at < now_text if deadline_at else created_at < stale_before) or _owner_gone(owner)]
        for start in range(0, len(gone), 500):
            chunk = gone[start:start + 500]
            self._write(
                f"UPDATE calls SET status = 'interrupted', owner = NULL, deadline_at = NULL, error_message = ? "
                f"WHERE status = 'pending' AND id IN ({', '.join('?' for _ in chunk)})",
                [INTERRUPTED_MESSAGE, *chunk],
            )
        return len(gone)

    def _committed_spend(self, conn, since: datetime | None, *, person: str | None = None) -> float:
        """Live cost settled since ``since`` (whole UTC days, from calls_daily) plus what live rows still hold;
        with ``person``, of that person's calls only (calls_person_daily, migration 012, holds live rows only)."""
        day = to_utc(since).date().isoformat() if since is not None else "0000-00-00"
        mine, whose = (" AND person = ?", (person,)) if person is not None else ("", ())
        totals = "calls_person_daily WHERE person = ? AND" if person is not None else "calls_daily WHERE backend = 'live' AND"
        settled = conn.exec_driver_sql(self.db.q(
            f"SELECT COALESCE(SUM(cost_nano_usd), 0) FROM {totals} day >= ?"), (*whose, day)).scalar()
        held = conn.exec_driver_sql(self.db.q(
            f"SELECT COALESCE(SUM(reserved_usd), 0) FROM calls{self.db.hint('calls_reserved')} "
            f"WHERE reserved_usd IS NOT NULL AND backend = 'live'{mine} AND created_at >= ?"),
            (*whose, _ts(since) if since is not None else "")).scalar()
        return float(settled) / 1e9 + float(held)

    def committed_spend(self, since: datetime | None = None, *, person: str | None = None) -> float:
        """Live spend since ``since`` as a hard budget counts it: settled cost plus money held by calls in flight
        (of ``person``'s calls only, when given)."""
        with self.db.read() as conn:
            return self._committed_spend(conn, since, person=person)

    def committed_by_person(self, since: datetime) -> dict[str, float]:
        """``committed_spend(since)`` of every person with live calls since ``since`` (the admins' budget table)."""
        found: dict[str, float] = {}
        for person, nano in self.db.fetchall(
                "SELECT person, SUM(cost_nano_usd) FROM calls_person_daily WHERE day >= ? GROUP BY person",
                (to_utc(since).date().isoformat(),)):
            found[person] = float(nano) / 1e9
        for person, held in self.db.fetchall(
                f"SELECT person, SUM(reserved_usd) FROM calls{self.db.hint('calls_reserved')} "
                "WHERE reserved_usd IS NOT NULL AND backend = 'live' AND created_at >= ? GROUP BY person", (_ts(since),)):
            found[person] = found.get(person, 0.0) + float(held)
        return found

    def version(self) -> tuple[int, ...]:
        """A value that changes whenever rows are added, settled or deleted (the ledger page's cache key)."""
        generation = self.db.fetchone("SELECT value FROM settings WHERE key = ?", (_GENERATION_KEY,))
        pending = self.db.fetchone(f"SELECT COUNT(*) FROM calls{self.db.hint('calls_pending')} WHERE status = 'pending'")[0]
        if self.db.sqlite:  # writers take turns, so a new row's rowid is above every committed one
            newest = self.db.fetchone("SELECT COALESCE(MAX(rowid), 0) FROM calls")
        else:  # identities are handed out before commit: count the newest window too, to see a late committer
            newest = self.db.fetchone("SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM calls "
                                      "WHERE seq > (SELECT COALESCE(MAX(seq), 0) - 1000 FROM calls)")
        return (int(generation[0]) if generation else 0), *map(int, newest), int(pending)

    @staticmethod
    def _row(record: tuple) -> LedgerRow:
        data = dict(zip(COLUMNS, record))
        for name, kind in _JSON_COLUMNS.items():
            data[name] = json.loads(data[name]) if data[name] else kind()
        data["created_at"] = datetime.strptime(data["created_at"], _TS_FORMAT).replace(tzinfo=timezone.utc)
        return LedgerRow(**data)

    def get(self, row_id: str) -> LedgerRow | None:
        found = self.db.fetchone(f"SELECT {', '.join(COLUMNS)} FROM calls WHERE id = ?", (row_id,))
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
        return [self._row(r) for r in self.db.fetchall(sql, params)]

    def count(self, **filters) -> int:
        """How many rows ``filters`` keep (as for ``frame``); all rows without filters."""
        where, params = self._where(**filters)
        return self.db.fetchone(f"SELECT COUNT(*) FROM calls{where}", params)[0]

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
        persons=None,
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
            ("model", models), ("backend", backends), ("status", statuses), ("person", persons),
        ):
            values = _as_list(wanted)
            if values is not None:
                if not values:
                    clauses.append("1 = 0")  # an empty choice matches nothing
                else:
                    clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                    params.extend(values)
        if text and text.strip():
            clause, values = self._contains(text.strip())
            clauses.append(clause)
            params.extend(values)
        if group_id is not None:
            clauses.append("group_id = ?")
            params.append(group_id)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _contains(self, needle: str) -> tuple[str, list[Any]]:
        """The prompt, revised prompt or negative prompt contains ``needle`` (any case; % and _ are literal).

        From 3 characters on, an index answers (migration 011): SQLite's FTS5 trigram table ``calls_search``
        (a phrase query, which is a substring match there), PostgreSQL's pg_trgm GIN index (which ILIKE uses);
        shorter needles, which no trigram index can narrow, scan with LIKE."""
        if self.db.sqlite and len(needle) >= SEARCH_INDEX_MIN_CHARS:
            return ("rowid IN (SELECT rowid FROM calls_search WHERE calls_search MATCH ?)",
                    ['"' + needle.replace('"', '""') + '"'])
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        like = self.db.like
        return (f"(prompt {like} ? ESCAPE '\\' OR revised_prompt {like} ? ESCAPE '\\' OR negative_prompt {like} ? ESCAPE '\\')",
                [pattern, pattern, pattern])

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
        return _typed_frame(self.db.fetchall(sql, params), chosen)

    def newest(self, columns: Iterable[str], *, limit: int, offset: int = 0, **filters) -> pd.DataFrame:
        """One page of a table: ``limit`` rows after the newest ``offset`` that ``filters`` keep (as for
        ``frame``), newest first.  Walks the time index, so the first pages cost next to nothing whatever
        the filters (the planner would otherwise pick the provider index and sort every row it matches)."""
        chosen = list(columns)
        unknown = set(chosen) - set(COLUMNS)
        if unknown:
            raise ValueError(f"No such ledger columns: {sorted(unknown)}")
        where, params = self._where(**filters)
        sql = (f"SELECT {', '.join(chosen)} FROM calls{self.db.hint('calls_created_at')}{where} "
               f"ORDER BY created_at DESC, id DESC LIMIT {int(limit)} OFFSET {int(offset)}")
        return _typed_frame(self.db.fetchall(sql, params), chosen)

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
                f"COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COUNT(latency_ms), {self.db.joined('latency_ms')} "
                f"FROM calls{self.db.hint('calls_by_day')}{where} GROUP BY {keys}"
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
                f"SELECT day, {', '.join(self._DAILY_KEYS)}, calls, priced_calls, CAST(cost_nano_usd AS DOUBLE PRECISION) / 1e9, n_images, "
                "input_tokens, output_tokens FROM calls_daily" + ((" WHERE " + " AND ".join(clauses)) if clauses else "")
            )
        records = self.db.fetchall(sql, params)
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
        with self.db.read() as conn:
            cursor = conn.exec_driver_sql(self.db.q(f"SELECT latency_ms FROM calls{self.db.hint('calls_by_day')}{where}"), tuple(params))
            return np.fromiter((record[0] for record in cursor), dtype=float)

    def spend(self, since=None, backend: str | None = "live", until=None, provider: str | None = None) -> float:
        """Total priced cost in USD (unpriced rows add nothing); live rows only unless ``backend=None``."""
        where, params = self._where(
            since=since, until=until,
            backends=None if backend is None else [backend],
            providers=None if provider is None else [provider],
        )
        total = self.db.fetchone(f"SELECT SUM(cost_usd) FROM calls{where}", params)[0]
        return float(total or 0.0)

    def count_images(self, provider: str, since=None, backend: str | None = "live") -> int:
        """Images a provider produced successfully since ``since`` (Karlo's free quota counts these)."""
        where, params = self._where(
            since=since, providers=[provider], statuses=["ok"], backends=None if backend is None else [backend]
        )
        total = self.db.fetchone(f"SELECT SUM(n_images) FROM calls{where}", params)[0]
        return int(total or 0)

    def refs(self, row: LedgerRow) -> list[str]:
        return [*row.input_refs, *([row.mask_ref] if row.mask_ref else []), *row.output_refs]

    def delete(self, ids: Iterable[str], *, by: "Person | None" = None) -> list[str]:
        """Delete these rows, then the images no remaining row names; returns the removed images' shas.

        With ``by`` (the person asking), a member may delete only their own rows: if any chosen row is
        someone else's, nothing is deleted and ``NotAllowed`` says so.  Admins delete anyone's.

        The images lock is held alone from before the rows go until the files are gone, so a record
        happening meanwhile either commits first (and its row keeps its images) or stores them anew after.
        """
        ids = list(ids)
        if not ids:
            return []
        q = self.db.q
        orphan_check = q(f"SELECT 1 FROM calls WHERE mask_ref = ? OR {self.db.contains('input_refs')} "
                         f"OR {self.db.contains('output_refs')} LIMIT 1")

        def work(conn) -> list[str]:
            candidates: set[str] = set()
            for chunk_start in range(0, len(ids), 500):
                chunk = ids[chunk_start:chunk_start + 500]
                marks = ", ".join("?" for _ in chunk)
                for inputs, mask, outputs, owner in conn.exec_driver_sql(
                    q(f"SELECT input_refs, mask_ref, output_refs, person FROM calls WHERE id IN ({marks})"), tuple(chunk)
                ):
                    if by is not None and not may_change(by, owner):
                        raise NotAllowed(
                            "You can delete only your own calls; some of the chosen ones are someone else's, so "
                            "nothing was deleted. Choose only yours, or ask an admin.", code="not_your_rows")
                    candidates.update(json.loads(inputs or "[]"))
                    candidates.update(json.loads(outputs or "[]"))
                    if mask:
                        candidates.add(mask)
                conn.exec_driver_sql(q(f"DELETE FROM calls WHERE id IN ({marks})"), tuple(chunk))
            conn.exec_driver_sql(q(  # part of version(): a delete changes what any reader saw
                "INSERT INTO settings (key, value, updated_at) VALUES (?, '1', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS INTEGER) + 1 AS TEXT), "
                "updated_at = excluded.updated_at"),
                (_GENERATION_KEY, _ts(utc_now())),
            )
            return [sha for sha in sorted(candidates)
                    if conn.exec_driver_sql(orphan_check, (sha, sha, sha)).fetchone() is None]

        with self.db.images_held(exclusive=True) as lock_conn:
            orphans = self.db.retrying(work, "delete from", conn=lock_conn)
            if self.images is not None:
                for sha in orphans:
                    self.images.delete(sha)
        return orphans

    def images_held(self):
        """Hold while storing a call's images and committing the row naming them (see ``Database.images_held``);
        yields the connection to pass to ``insert``/``settle`` (``None`` on SQLite)."""
        return self.db.images_held()

    # --- votes ------------------------------------------------------------
    def add_vote(self, group_id: str, prompt: str | None, winner: str, targets: list[str], *, person: str = "local") -> str:
        """Record a compare vote; ``winner`` is a target label, ``"tie"`` or ``"both bad"``; ``person`` who voted."""
        vote_id = new_id()
        self._write(
            "INSERT INTO votes (id, created_at, group_id, prompt, winner, targets, person) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (vote_id, _ts(utc_now()), group_id, prompt, winner, json.dumps(list(targets), ensure_ascii=False), person),
        )
        return vote_id

    def votes_frame(self) -> pd.DataFrame:
        """Every vote, oldest first; ``targets`` parsed to lists."""
        records = self.db.fetchall("SELECT id, created_at, group_id, prompt, winner, targets, person FROM votes ORDER BY created_at, id")
        votes = pd.DataFrame.from_records(records, columns=["id", "created_at", "group_id", "prompt", "winner", "targets", "person"])
        votes["created_at"] = pd.to_datetime(votes["created_at"], format=_TS_FORMAT, utc=True)
        votes["targets"] = votes["targets"].map(json.loads)
        return votes

    # --- presets: saved things that belong to a person (migration 010; rules in lib/presets.py) ---------
    def presets(self, kind: str, *, persons: Iterable[str] | None = None) -> list["Preset"]:
        """The saved ``kind`` presets (of ``persons`` only, when given), by name then owner."""
        sql, params = "SELECT kind, person, name, value, person_name, updated_at FROM presets WHERE kind = ?", [kind]
        chosen = _as_list(persons)
        if chosen is not None:
            if not chosen:
                return []
            sql += f" AND person IN ({', '.join('?' for _ in chosen)})"
            params.extend(chosen)
        return [Preset(k, person, name, json.loads(value), person_name,
                       datetime.strptime(updated, _TS_FORMAT).replace(tzinfo=timezone.utc))
                for k, person, name, value, person_name, updated in self.db.fetchall(sql + " ORDER BY name, person", params)]

    def put_preset(self, kind: str, person: str, name: str, value: Any, *, person_name: str | None = None) -> None:
        """Save (or overwrite) ``person``'s preset ``name``."""
        self._write(
            "INSERT INTO presets (kind, person, name, value, person_name, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (kind, person, name) DO UPDATE SET value = excluded.value, "
            "person_name = excluded.person_name, updated_at = excluded.updated_at",
            (kind, person, name, json.dumps(value, ensure_ascii=False), person_name, _ts(utc_now())),
        )

    def delete_preset(self, kind: str, person: str, name: str) -> bool:
        """Remove ``person``'s preset ``name``; whether there was one."""
        return self._write("DELETE FROM presets WHERE kind = ? AND person = ? AND name = ?", (kind, person, name)) > 0

    # --- settings ---------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        found = self.db.fetchone("SELECT value FROM settings WHERE key = ?", (key,))
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
