"""Abandoned calls: which pending rows a replica may settle as interrupted, and that every process does so on a
timer (lib.store.sweeper), without anybody opening the ledger."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from lib import limits
from lib.store import begin_call, open_store
from lib.store.ledger import INTERRUPTED_MESSAGE, LedgerRow, new_id, owner_token, utc_now

from .helpers import cfg

ROOT = Path(__file__).resolve().parents[2]


def _pending(ledger, prompt: str, *, age: timedelta, deadline_s: float | None, owner: str) -> str:
    """A pending row begun ``age`` ago by ``owner``, with a deadline ``deadline_s`` after it began (None: a row
    from before deadlines were kept)."""
    row = LedgerRow(id=new_id(), created_at=utc_now() - age, page="generate", action="generate", provider="openai",
                    backend="live", prompt=prompt)
    ledger.begin(row, reserve_usd=0.04, deadline_s=deadline_s or 1.0)
    ledger.db.execute("UPDATE calls SET owner = ?" + (", deadline_at = NULL" if deadline_s is None else "") + " WHERE id = ?",
                      (owner, row.id))
    return row.id


def test_a_call_from_another_machine_is_settled_once_past_its_own_deadline_and_not_before(ledger):
    elsewhere = "replica-on-another-host:4242:a1b2c3:4026531836"  # its pids mean nothing here
    overdue = _pending(ledger, "ran out of time", age=timedelta(minutes=5), deadline_s=125.0, owner=elsewhere)
    running = _pending(ledger, "still in time", age=timedelta(minutes=2), deadline_s=600.0, owner=elsewhere)
    old_fresh = _pending(ledger, "old layout, 10 min", age=timedelta(minutes=10), deadline_s=None, owner=elsewhere)
    old_stale = _pending(ledger, "old layout, 31 min", age=timedelta(minutes=31), deadline_s=None, owner=elsewhere)
    assert ledger.settle_interrupted() == 2
    assert ledger.get(overdue).status == "interrupted" and ledger.get(overdue).error_message == INTERRUPTED_MESSAGE
    assert ledger.get(old_stale).status == "interrupted"  # rows without a deadline keep the 30-minute rule
    assert ledger.get(running).status == "pending" and ledger.get(old_fresh).status == "pending"
    assert ledger.committed_spend() == pytest.approx(0.16)  # an interrupted call may have been billed: still held


def test_pids_are_checked_only_among_this_process_s_own(ledger):
    host, namespace = socket.gethostname(), owner_token().rsplit(":", 1)[1]
    dead_here = _pending(ledger, "dead here", age=timedelta(seconds=1), deadline_s=600.0,
                         owner=f"{host}:999999999:gone:{namespace}")
    other_container = _pending(ledger, "same host name, other pids", age=timedelta(seconds=1), deadline_s=600.0,
                               owner=f"{host}:999999999:gone:1")
    mine = _pending(ledger, "this process", age=timedelta(seconds=1), deadline_s=600.0, owner=owner_token())
    assert ledger.settle_interrupted() == 1
    assert ledger.get(dead_here).status == "interrupted"
    assert ledger.get(other_container).status == "pending" and ledger.get(mine).status == "pending"


def test_a_pending_row_keeps_the_moment_its_call_is_certainly_over(store_dir, monkeypatch):
    _, ledger = open_store(store_dir)
    explicit = begin_call("generate", "generate", cfg(), prompt="seven seconds", timeout_s=7, data_dir=store_dir)
    monkeypatch.setenv("STUDIO_TIMEOUT_S", "42")
    default = begin_call("generate", "generate", cfg(), prompt="the page's limit", data_dir=store_dir)
    for call_id, limit in ((explicit, 7.0), (default, 42.0)):
        created, deadline = ledger.db.fetchone("SELECT created_at, deadline_at FROM calls WHERE id = ?", (call_id,))
        span = datetime.fromisoformat(deadline.rstrip("Z")) - datetime.fromisoformat(created.rstrip("Z"))
        assert span.total_seconds() == pytest.approx(limit + limits.DEADLINE_GRACE_S + limits.PENDING_SETTLE_MARGIN_S)
    from lib.store import record_call

    record_call("generate", "generate", cfg(), prompt="seven seconds", call_id=explicit, data_dir=store_dir)
    assert ledger.db.fetchone("SELECT deadline_at FROM calls WHERE id = ?", (explicit,)) == (None,)


SURVIVOR = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from lib import limits
    limits.PENDING_SWEEP_INTERVAL_S = 0.3
    from lib.store import open_store, sweeper
    sweeper.keep_settling(open_store()[1])  # what streamlit_app.py does on every page run
    print("sweeping", flush=True)
    time.sleep(120)
    """
)

SENDER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from lib.config import ProviderConfig
    from lib.store import begin_call
    cfg = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-sweep-test-0123456789", "environment")
    print(begin_call("generate", "generate", cfg, prompt=sys.argv[2], estimate_usd=0.04), flush=True)
    time.sleep(120)  # the call is out
    """
)


def test_a_row_left_by_a_killed_process_is_settled_by_a_live_one_without_anybody_opening_the_ledger(store_dir):
    _, ledger = open_store(store_dir)  # opened (and swept) before anything is pending: from here on only read
    env = {**os.environ, "STUDIO_DATA_DIR": str(store_dir)}
    started = []

    def child(code: str, *args: str) -> tuple[subprocess.Popen, str]:
        process = subprocess.Popen([sys.executable, "-c", code, str(ROOT), *args], env=env, stdout=subprocess.PIPE, text=True)
        started.append(process)
        return process, process.stdout.readline().strip()

    try:
        _, said = child(SURVIVOR)
        assert said == "sweeping"
        doomed, doomed_id = child(SENDER, "killed mid-call")
        _, alive_id = child(SENDER, "still being answered")
        assert doomed_id and alive_id
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        deadline = time.monotonic() + 30
        while ledger.get(doomed_id).status == "pending" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ledger.get(doomed_id).status == "interrupted", "no live process settled the killed one's call"
        time.sleep(1.0)  # a few more sweeps
        assert ledger.get(alive_id).status == "pending", "a call whose process lives must be left alone"
        assert ledger.committed_spend() == pytest.approx(0.08)
    finally:
        for process in started:
            process.kill()
            process.wait(timeout=10)
