"""The ledger's database: one SQLAlchemy engine per URL (SQLite file or PostgreSQL), its migrations, its locks.

``STUDIO_DATABASE_URL`` is an SQLAlchemy URL (``postgresql+psycopg://user@host/db``); without it the
ledger is ``ledger.sqlite3`` in the data folder, as before.  The ledger writes its SQL as driver text
with ``?`` marks (translated here for psycopg): the two dialects differ in a few fragments only,
which ``Database`` names (``hint``, ``strpos``, ``string_agg``...), and in the migrations, kept as
the same numbered files in ``migrations/`` (SQLite) and ``migrations/postgresql/``.

Migrations run once: under ``BEGIN IMMEDIATE`` on SQLite and under a PostgreSQL advisory lock, so
replicas starting together never race.  A database whose schema is newer than this code knows is
refused in words (an older replica must not write into a newer layout).
"""
from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from lib.errors import remember_storage_secret
from lib.store.images import StoreUnavailable

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 30_000
_MIGRATION_LOCK = 7_215_300_001  # pg_advisory_lock keys: any constant both replicas agree on
_IMAGES_LOCK = 7_215_300_002      # records hold it shared, a delete holds it exclusively (see images_held)
_RETRIES = 5                      # deadlocks and serialisation failures on PostgreSQL are retried
# One SQLite writer at a time per database file in this process, handed over on a lock: SQLite's own busy
# handler makes a waiting BEGIN IMMEDIATE sleep 1, 2, 5, 10, 15... ms between tries, so Compare's cells, which all
# write their rows at about the same moment, waited up to tens of ms for a lock held for well under one.
_sqlite_writers: dict[str, threading.RLock] = {}
_sqlite_writers_lock = threading.Lock()


def _sqlite_writer(path: Path | None) -> threading.RLock:
    key = str(path.resolve()) if path is not None and str(path) not in ("", ":memory:") else f"memory:{id(path)}"
    with _sqlite_writers_lock:
        return _sqlite_writers.setdefault(key, threading.RLock())


def migrations(dialect: str = "sqlite") -> list[tuple[int, str, str]]:
    """``(number, file name, sql)`` for every ``NNN_name.sql`` of ``dialect``, in order, numbered 1..N."""
    folder = MIGRATIONS_DIR if dialect == "sqlite" else MIGRATIONS_DIR / dialect
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = re.match(r"(\d+)_", path.name)
        if match:
            found.append((int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"Migrations must be numbered 1..N without gaps, found {numbers} in {folder}")
    return found


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


@lru_cache(maxsize=512)
def _make_private(path: Path) -> None:
    """The ledger holds every prompt and reply: readable by this user only (0600, like the pictures).

    Created that way before SQLite first opens it; SQLite gives its -wal and -shm files the database file's
    own mode. A folder that cannot be written is left for the first connection to report in words."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if part.exists() and part.stat().st_mode & 0o077:
                os.chmod(part, 0o600)
    except OSError:
        pass


def _pyformat(sql: str) -> str:
    """``?`` marks as psycopg's ``%s`` (literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class Database:
    """An engine and what the ledger needs to know about its dialect."""

    def __init__(self, url: str | Path, *, label: str | None = None) -> None:
        if isinstance(url, Path) or "://" not in str(url):
            self.path: Path | None = Path(url)
            url = "sqlite:///" + str(Path(url))
        else:
            self.path = Path(sa.make_url(url).database) if str(url).startswith("sqlite") and sa.make_url(url).database else None
        self.url = sa.make_url(str(url))
        remember_storage_secret(self.url.password)  # a database error that quotes its URL is redacted like a key
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreUnavailable(f"STUDIO_DATABASE_URL must be an SQLite or PostgreSQL URL, not {self.dialect!r}.")
        self.label = label or (str(self.path) if self.path else self.url.render_as_string(hide_password=True))
        self.sqlite = self.dialect == "sqlite"
        if self.sqlite and self.path is not None and str(self.path) not in ("", ":memory:"):
            _make_private(self.path)
        try:
            self.engine = self._make_engine()
        except Exception as exc:  # noqa: BLE001  (a missing driver, a bad URL)
            raise StoreUnavailable(f"Cannot use the ledger database {self.label} ({exc}).") from exc
        self._lock_path = Path(str(self.path) + ".lock") if self.sqlite and self.path else None
        self._writer = _sqlite_writer(self.path) if self.sqlite else None

    def _make_engine(self) -> Engine:
        if self.sqlite:
            # Autocommit at the driver, so that every write transaction can begin IMMEDIATE (taking the write
            # lock up front: no deadlock between two readers that both decide to write) and reads take none.
            engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=8, max_overflow=24,
                                      connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # noqa: ANN001
                dbapi_conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                dbapi_conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable across app crashes, cheap commits

            return engine
        return sa.create_engine(self.url, pool_size=8, max_overflow=24, pool_pre_ping=True)

    # --- SQL fragments that differ ----------------------------------------
    def q(self, sql: str) -> str:
        return sql if self.sqlite else _pyformat(sql)

    def hint(self, index: str) -> str:
        """SQLite's ``INDEXED BY``; PostgreSQL's planner chooses for itself."""
        return f" INDEXED BY {index}" if self.sqlite else ""

    def contains(self, haystack: str) -> str:
        """``haystack`` contains the bound text."""
        return f"instr({haystack}, ?) > 0" if self.sqlite else f"strpos({haystack}, ?) > 0"

    @property
    def like(self) -> str:
        """Case-insensitive LIKE on both (SQLite's LIKE already ignores ASCII case)."""
        return "LIKE" if self.sqlite else "ILIKE"

    def joined(self, column: str) -> str:
        return f"group_concat({column})" if self.sqlite else f"string_agg(CAST({column} AS TEXT), ',')"

    # --- running SQL -------------------------------------------------------
    def _fail(self, exc: Exception, doing: str) -> StoreUnavailable:
        return StoreUnavailable(f"Could not {doing} the usage ledger at {self.label} ({_plain(exc)}).")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc, "read") from exc

    def fetchall(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self.read() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(self.q(sql), tuple(params)).fetchall()]

    def fetchone(self, sql: str, params: tuple | list = ()) -> tuple | None:
        with self.read() as conn:
            found = conn.exec_driver_sql(self.q(sql), tuple(params)).fetchone()
            return tuple(found) if found is not None else None

    @contextmanager
    def write(self, conn: Connection | None = None) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), on ``conn`` when given (see ``images_held``)."""
        if conn is None:
            with self.engine.connect() as own:
                with self.write(own) as inside:
                    yield inside
            return
        if self.sqlite:
            # Past SQLite's own busy timeout, go on anyway: SQLite then says "database is locked" as before.
            held = self._writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.exec_driver_sql("COMMIT")
                except BaseException:
                    conn.exec_driver_sql("ROLLBACK")
                    raise
            finally:
                if held:
                    self._writer.release()
        else:
            with conn.begin():
                yield conn

    def retrying(self, work, doing: str = "write to", conn: Connection | None = None):
        """``work(conn)`` in a write transaction, again on a PostgreSQL deadlock or serialisation failure."""
        for attempt in range(_RETRIES):
            try:
                with self.write(conn) as inside:
                    return work(inside)
            except sa.exc.DBAPIError as exc:
                code = getattr(getattr(exc, "orig", None), "sqlstate", None)
                if code in ("40P01", "40001") and attempt < _RETRIES - 1:
                    time.sleep(0.01 * (attempt + 1))
                    continue
                raise self._fail(exc, doing) from exc

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        return self.retrying(lambda conn: conn.exec_driver_sql(self.q(sql), tuple(params)).rowcount)

    # --- the images lock ---------------------------------------------------
    @contextmanager
    def images_held(self, exclusive: bool = False) -> Iterator[Connection | None]:
        """While held shared (by every record), no delete removes image files; a delete holds it alone.

        So a record either sees its images still there (and its row then keeps them from being
        orphans) or finds them gone and stores them again; never a row naming a missing file.  On
        SQLite a lock file beside the database (flock, across threads and processes); on PostgreSQL a
        session advisory lock on a connection that the caller also uses (across replicas).
        """
        if self.sqlite:
            if self._lock_path is None:
                yield None
                return
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                yield None
            finally:
                os.close(fd)  # releases the lock
            return
        try:
            with self.engine.connect() as conn:
                lock = "pg_advisory_lock" if exclusive else "pg_advisory_lock_shared"
                conn.exec_driver_sql(f"SELECT {lock}({_IMAGES_LOCK})")
                conn.commit()  # a session lock: it outlives this little transaction, until unlocked
                try:
                    yield conn
                finally:
                    try:
                        conn.exec_driver_sql(f"SELECT {lock.replace('lock', 'unlock', 1)}({_IMAGES_LOCK})")
                        conn.commit()
                    except sa.exc.DBAPIError:
                        conn.invalidate()  # a lost connection: its session, and so the lock, ends with it
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc, "lock") from exc

    # --- migrations --------------------------------------------------------
    def migrate(self) -> int:
        """Apply the migrations this database lacks; the schema version it ends at."""
        known = migrations(self.dialect)
        try:
            if self.sqlite:
                return self._migrate_sqlite(known)
            return self._migrate_postgresql(known)
        except sa.exc.DBAPIError as exc:
            raise StoreUnavailable(
                f"Cannot prepare the usage ledger at {self.label} ({_plain(exc)}). "
                + ("Check that STUDIO_DATA_DIR points to a writable folder with free space." if self.sqlite
                   else "Check STUDIO_DATABASE_URL: the server, the database name, the user and its password.")
            ) from exc

    def _refuse_newer(self, found: int, known: list) -> None:
        if found > len(known):
            raise StoreUnavailable(
                f"The usage ledger at {self.label} has schema version {found}, newer than this app knows "
                f"(version {len(known)}): another, newer copy of Imagine Studio has upgraded it. Upgrade this one "
                "before starting it; it will not write into a layout it does not know."
            )

    def _migrate_sqlite(self, known: list) -> int:
        with self.engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode = WAL").scalar()
            if str(mode).lower() != "wal":
                raise StoreUnavailable(f"Cannot prepare the usage ledger at {self.label} (journal mode is {mode}, not wal).")
            version = conn.exec_driver_sql("PRAGMA user_version").scalar()
            self._refuse_newer(version, known)
            if version >= len(known):
                return version
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # one migrator at a time, across processes too
            try:
                version = conn.exec_driver_sql("PRAGMA user_version").scalar()
                self._refuse_newer(version, known)
                for number, _name, sql in known:
                    if number > version:
                        for statement in _split_statements(sql):
                            conn.exec_driver_sql(statement)
                        conn.exec_driver_sql(f"PRAGMA user_version = {number}")
                conn.exec_driver_sql("COMMIT")
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            return conn.exec_driver_sql("PRAGMA user_version").scalar()

    def _migrate_postgresql(self, known: list) -> int:
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({_MIGRATION_LOCK})")  # replicas starting together wait here
            conn.commit()
            try:
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                conn.commit()
                version = conn.exec_driver_sql("SELECT MAX(version) FROM schema_version").scalar() or 0
                self._refuse_newer(version, known)
                for number, _name, sql in known:
                    if number > version:  # DDL is transactional here: a migration and its number commit together
                        conn.exec_driver_sql(sql)
                        conn.exec_driver_sql(f"INSERT INTO schema_version (version) VALUES ({number})")
                        conn.commit()
                version = conn.exec_driver_sql("SELECT MAX(version) FROM schema_version").scalar() or 0
                conn.commit()
                return version
            finally:
                conn.rollback()
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK})")
                conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()


def _plain(exc: Exception) -> str:
    """The driver's own message, first line, without SQLAlchemy's decoration."""
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
