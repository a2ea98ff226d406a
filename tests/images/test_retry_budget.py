"""How often ``generate`` sends a failed call again: twice by default for what is safe, never when told 0,
never a time-out, never past the call's deadline."""
from __future__ import annotations

import dataclasses
import time

import pytest

from lib import catalog, config, limits
from lib.errors import ProviderDown
from lib.providers import openai_images as oi


@pytest.fixture
def cfg(live_env, monkeypatch):
    catalog.forget_available_models()
    monkeypatch.setattr(limits, "RETRY_BACKOFF_S", 0.01)
    return config.resolve()["openai"]


def sends(calls) -> int:
    return sum(1 for c in calls if c["path"] == "/v1/images/generations")


def failing(cfg, fault):
    return dataclasses.replace(cfg, extra_headers={"X-Emulator-Fault": fault})


def test_max_retries_zero_sends_a_failing_call_once(cfg, emulator_calls):
    with pytest.raises(ProviderDown) as caught:
        oi.generate(failing(cfg, "500"), model="gpt-image-2", prompt="a cat", size="1024x1024", quality="low", max_retries=0)
    assert caught.value.http_status == 500
    assert sends(emulator_calls) == 1


def test_the_default_budget_retries_a_server_error_twice_and_says_so(cfg, emulator_calls):
    with pytest.raises(ProviderDown) as caught:
        oi.generate(failing(cfg, "500"), model="gpt-image-2", prompt="a cat", size="1024x1024", quality="low")
    assert sends(emulator_calls) == 1 + limits.MAX_RETRIES
    assert f"Gave up after {1 + limits.MAX_RETRIES} attempts" in caught.value.message


def test_a_time_out_is_never_sent_again(cfg, emulator_calls):
    """The provider may still be drawing (and billing): a second call would be billed twice."""
    started = time.monotonic()
    with pytest.raises(ProviderDown) as caught:
        oi.generate(failing(cfg, "hang"), model="gpt-image-2", prompt="a cat", timeout=0.5)
    assert caught.value.code == "timeout" and "did not answer within 0.5 s" in caught.value.message
    assert sends(emulator_calls) == 1
    assert time.monotonic() - started < 0.5 + limits.DEADLINE_GRACE_S


def test_studio_timeout_s_is_the_default_time_limit(cfg, emulator_calls, monkeypatch):
    monkeypatch.setenv("STUDIO_TIMEOUT_S", "0.4")
    with pytest.raises(ProviderDown, match="did not answer within 0.4 s"):
        oi.generate(failing(cfg, "hang"), model="gpt-image-2", prompt="a cat")


def test_a_refused_connection_is_retried_but_not_past_the_deadline(cfg, monkeypatch):
    monkeypatch.setattr(limits, "RETRY_BACKOFF_S", 0.3)
    nowhere = dataclasses.replace(cfg, base_url="http://127.0.0.1:9/v1")
    started = time.monotonic()
    with pytest.raises(ProviderDown) as caught:
        oi.generate(nowhere, model="gpt-image-2", prompt="a cat", timeout=0.5)
    # 0.3 s after the first refusal is within the deadline, the 0.6 s wait after the second is not
    assert caught.value.code == "connection_refused" and "Gave up after 2 attempts" in caught.value.message
    assert time.monotonic() - started < 0.5 + limits.DEADLINE_GRACE_S


def test_the_sdk_itself_never_retries(cfg):
    assert oi._client(cfg).max_retries == 0


def test_a_bad_timeout_setting_says_how_to_write_it(monkeypatch):
    monkeypatch.setenv("STUDIO_TIMEOUT_S", "two minutes")
    with pytest.raises(limits.TimeoutSettingError, match="number of seconds"):
        limits.provider_timeout_s()
    monkeypatch.setenv("STUDIO_TIMEOUT_S", "-3")
    with pytest.raises(limits.TimeoutSettingError):
        limits.provider_timeout_s()
