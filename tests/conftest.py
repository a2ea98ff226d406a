"""Shared fixtures: a real emulator on loopback, and an isolated environment per test."""
from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests never talk to the internet and never wait for demo latency.
os.environ.setdefault("STUDIO_DEMO_LATENCY_MS", "0")

# The day every test runs on, whatever the machine's clock says (CI also runs the suite with the clock moved 400 days on: tests/moved_clock).
# Date-dependent assertions are written relative to this day and to the catalog's rows.
PINNED_TODAY = date(2026, 12, 1)
os.environ["STUDIO_TODAY"] = PINNED_TODAY.isoformat()  # also seen by apps the browser tests start
from lib.config import provider_variables  # noqa: E402  (every engine's key and base-URL variables)

PROVIDER_VARIABLES = (*provider_variables(), "STUDIO_DEMO")
for _var in PROVIDER_VARIABLES:
    os.environ.pop(_var, None)


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    """Every test starts on PINNED_TODAY; a test that needs another day calls ``monkeypatch.setenv("STUDIO_TODAY", ...)``."""
    monkeypatch.setenv("STUDIO_TODAY", PINNED_TODAY.isoformat())
    return PINNED_TODAY


@pytest.fixture(scope="session")
def emulator():
    """One emulator for the whole session, served over real HTTP on 127.0.0.1."""
    from emulator import start_in_thread

    running = start_in_thread(hang_seconds=30)
    yield running
    running.stop()


@pytest.fixture
def emulator_calls(emulator):
    """The emulator's call log, emptied before the test."""
    with emulator.state.lock:
        emulator.state.calls.clear()
    return emulator.state.calls


@pytest.fixture
def studio_env(tmp_path, monkeypatch):
    """A fresh data dir and a clean provider environment (demo mode unless the test sets keys)."""
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .streamlit/secrets.toml from the repo
    for var in PROVIDER_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    # Streamlit reads the secrets once per process from the working folder: forget what an earlier test's
    # folder held (e.g. an [auth] section, which would put every later page behind sign-in), before and after.
    from streamlit.runtime.secrets import secrets_singleton

    secrets_singleton._reset()
    yield tmp_path / "data"
    secrets_singleton._reset()


@pytest.fixture
def live_env(studio_env, emulator, monkeypatch):
    """Keys present and base URLs pointing at the emulator: the app believes it is live."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-live-key-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    monkeypatch.setenv("KAKAO_REST_API_KEY", "kakao-test-live-key-0123456789")
    monkeypatch.setenv("KARLO_BASE_URL", emulator.karlo_base_url)
    return studio_env


@pytest.fixture
def compat_env(live_env, emulator, monkeypatch):
    """The OpenAI provider pointed at the emulator's OpenAI-compatible face, which still serves DALL·E."""
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.compat_base_url)
    return live_env


# Tried/held figures of the bad-input, fault and security suites (a summary line at the end of a run).
from tests.tally import pytest_runtest_logreport, pytest_terminal_summary, tally  # noqa: E402,F401

# Browser fixtures (app started with `streamlit run`, Debian's chromium through Playwright): one
# Playwright per test session, shared by every test that drives a browser.
from tests.browser_support import app_server, browser, chromium_path, page  # noqa: E402,F401
