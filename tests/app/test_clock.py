"""lib.clock: the one seam for today and now."""
from __future__ import annotations

from datetime import date, timezone

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
