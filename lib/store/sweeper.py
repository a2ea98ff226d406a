"""Every app process settles abandoned calls on a timer, so a replica that died mid-call is cleaned up by the
ones still running without anybody opening the ledger page.

``keep_settling(ledger)`` (streamlit_app.py calls it on every page run; cheap after the first) adds the ledger
to the ones this process watches and starts one daemon thread that runs ``Ledger.settle_interrupted`` on each
every ``lib.limits.PENDING_SWEEP_INTERVAL_S``.  A sweep is one indexed read of the pending rows; replicas
sweeping the same database at once only repeat the same idempotent update.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING

from lib import limits

if TYPE_CHECKING:
    from lib.store.ledger import Ledger

log = logging.getLogger(__name__)

_watched: "weakref.WeakSet[Ledger]" = weakref.WeakSet()  # a ledger closed and dropped stops being swept
_lock = threading.Lock()
_thread: threading.Thread | None = None


def keep_settling(ledger: "Ledger") -> None:
    """Sweep ``ledger`` every ``PENDING_SWEEP_INTERVAL_S`` from now on, in this process's one sweeper thread."""
    global _thread
    with _lock:
        _watched.add(ledger)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="studio-pending-sweeper", daemon=True)
            _thread.start()


def watched() -> list["Ledger"]:
    with _lock:
        return [ledger for ledger in _watched if not ledger.closed]


def sweep_once() -> int:
    """Settle what can be settled in every watched ledger; how many rows.  A failing database is logged and
    tried again on the next tick (a sweep is housekeeping: it never stops the app)."""
    settled = 0
    for ledger in watched():
        try:
            settled += ledger.settle_interrupted()
        except Exception:  # noqa: BLE001  (PostgreSQL restarting, a full disk: the next tick tries again)
            log.warning("could not settle abandoned calls in %s", ledger.db.label, exc_info=True)
    return settled


def _run() -> None:
    while True:
        time.sleep(limits.PENDING_SWEEP_INTERVAL_S)
        sweep_once()
