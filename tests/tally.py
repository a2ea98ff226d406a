"""Tried and held: the hostile-input suites (bad input, faults, security) say how many hostile inputs and
actions they tried and how many the app handled, in one line at the end of a pytest run.

Each test case counts as one input tried (held when it passes). A test that tries many inputs itself reports
them with the ``tally`` fixture (``tally(tried, held)``), and its figures replace that one.
"""
from __future__ import annotations

from pathlib import Path

import pytest

SUITES = ("bad_input", "faults", "security")
_TESTS = Path(__file__).resolve().parent
_reported: dict[str, list] = {}  # nodeid -> [tried, held, group or None] as the test said
_outcomes: dict[str, tuple[str, bool]] = {}  # nodeid -> (suite, passed)


def _suite(nodeid: str) -> str | None:
    parts = nodeid.split("::", 1)[0].replace("\\", "/").split("/")
    if "tests" in parts:
        parts = parts[parts.index("tests") + 1:]
    return parts[0] if parts and parts[0] in SUITES else None


@pytest.fixture
def tally(request):
    """``tally(tried, held, group=None)``: this test tried ``tried`` hostile inputs and ``held`` of them were
    handled; ``group`` counts them apart from their suite (e.g. ``"random"`` for generated inputs)."""
    def add(tried: int, held: int, group: str | None = None) -> None:
        counts = _reported.setdefault(request.node.nodeid, [0, 0, group])
        counts[0] += tried
        counts[1] += held
    return add


def pytest_runtest_logreport(report) -> None:
    suite = _suite(report.nodeid)
    if suite is None or report.skipped:
        return
    if report.when == "call" or report.failed:  # a failing setup or teardown also means it did not hold
        passed = report.passed and _outcomes.get(report.nodeid, (suite, True))[1]
        _outcomes[report.nodeid] = (suite, passed)


def figures() -> dict[str, tuple[int, int]]:
    totals: dict[str, list[int]] = {}
    for nodeid, (suite, passed) in _outcomes.items():
        tried, held, group = _reported.get(nodeid, (1, 1, None))
        if not passed:
            held = min(held, tried - 1)
        counts = totals.setdefault(f"{suite} ({group})" if group else suite, [0, 0])
        counts[0] += tried
        counts[1] += max(held, 0)
    return {suite: (t, h) for suite, (t, h) in totals.items()}


def pytest_terminal_summary(terminalreporter) -> None:
    found = figures()
    if found:
        line = " · ".join(f"{suite}: tried {t}, held {h}" for suite, (t, h) in sorted(found.items()))
        terminalreporter.write_line(f"hostile inputs and actions — {line}")
