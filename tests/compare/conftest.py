"""An emulator of this folder's own.

A timed-out request is retried by the SDK in the background after a comparison
has moved on; those stray calls must not land in the call log other tests
assert on, so compare tests never use the shared emulators.
"""
from __future__ import annotations

import pytest
import requests


@pytest.fixture(scope="module")
def own_emulator():
    from emulator import start_in_thread

    running = start_in_thread(hang_seconds=60)
    # One call first, so the emulator's first-render cost is not mistaken for a slow target.
    requests.post(running.openai_base_url + "/images/generations", timeout=30,
                  headers={"Authorization": "Bearer sk-warm-up-0123456789"},
                  json={"model": "gpt-image-2", "prompt": "warm up", "size": "1024x1024", "quality": "low"})
    yield running
    running.stop()


@pytest.fixture
def env(studio_env, own_emulator, monkeypatch):
    """Keys present and base URLs at this folder's emulator: the app believes it is live. Returns its call log."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-live-key-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", own_emulator.openai_base_url)
    monkeypatch.setenv("KAKAO_REST_API_KEY", "kakao-test-live-key-0123456789")
    monkeypatch.setenv("KARLO_BASE_URL", own_emulator.karlo_base_url)
    with own_emulator.state.lock:
        own_emulator.state.calls.clear()
    return own_emulator.state.calls


@pytest.fixture
def demo_env(studio_env, own_emulator, monkeypatch):
    """Demo mode (no keys) served by this folder's emulator instead of the process-wide demo one."""
    from lib import demo

    monkeypatch.setattr(demo, "_running", own_emulator)
    with own_emulator.state.lock:
        own_emulator.state.calls.clear()
    return own_emulator.state.calls
