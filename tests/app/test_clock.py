"""lib.clock: the one seam for today and now."""
from __future__ import annotations

import os
import re
import time
from datetime import date, timezone
from pathlib import Path

import pytest

from lib import clock


def test_studio_today_pins_today_and_now(monkeypatch):
    monkeypatch.setenv("STUDIO_TODAY", "2029-02-28")
    assert clock.today() == date(2029, 2, 28)
    now = clock.now()
    assert now.date() == date(2029, 2, 28) and now.tzinfo == timezone.utc
    assert clock.month_start() .isoformat() == "2029-02-01T00:00:00+00:00"
    assert clock.day_start().isoformat() == "2029-02-28T00:00:00+00:00"


def test_unset_follows_the_machine(monkeypatch):
    from datetime import datetime

    monkeypatch.delenv("STUDIO_TODAY")
    assert clock.today() == datetime.now(timezone.utc).date()


def test_a_bad_value_says_how_to_write_it(monkeypatch):
    monkeypatch.setenv("STUDIO_TODAY", "1 Dec 2026")
    with pytest.raises(clock.ClockSettingError, match="YYYY-MM-DD"):
        clock.today()


def test_the_suite_is_pinned(pinned_today):
    assert clock.today() == pinned_today


# What may read the calendar clock: lib/clock.py only (new_id's time.time() stamps an id, it decides nothing).
_WALL_CLOCK_CALLS = ("datetime.now(", "date.today(", "datetime.utcnow(", "datetime.today(")
# Clocks a database reads for itself: neither the suite's pinned day nor the moved-clock run can move them.
_DATABASE_CLOCKS = re.compile(r"current_timestamp|current_date|localtimestamp|clock_timestamp|(?<![\w.])now\(\)|'now'")


def test_only_lib_clock_reads_the_calendar_and_no_sql_asks_the_database():
    root = Path(__file__).resolve().parents[2]
    sources = [root / "streamlit_app.py", *root.glob("lib/**/*.py"), *root.glob("pages/**/*.py")]
    readers = [
        f"{path.relative_to(root)}: {call}"
        for path in sources
        if path.name != "clock.py" or path.parent.name != "lib"
        for call in _WALL_CLOCK_CALLS
        if call in path.read_text(encoding="utf-8")
    ]
    assert readers == []
    sql = [*root.glob("lib/store/migrations/**/*.sql"), *root.glob("lib/store/*.py")]
    asks = [
        f"{path.relative_to(root)}: {found}"
        for path in sql
        for found in _DATABASE_CLOCKS.findall(path.read_text(encoding="utf-8").lower())
    ]
    assert asks == []


@pytest.mark.skipif("STUDIO_MOVED_CLOCK_DAYS" not in os.environ, reason="only in the moved-clock run (.ci/run)")
def test_the_moved_clock_run_has_moved_the_clock(tmp_path):
    """A moved-clock run whose clock did not move would prove nothing: the kernel's file times are not moved."""
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    moved_by = time.time() - probe.stat().st_mtime
    assert abs(moved_by - int(os.environ["STUDIO_MOVED_CLOCK_DAYS"]) * 86400) < 3600
