"""How often ``generate`` lets the SDK send a failed call again: twice by default, never when told 0."""
from __future__ import annotations

import dataclasses

import pytest

from lib import catalog, config
from lib.errors import ProviderDown
from lib.providers import openai_images as oi


@pytest.fixture
def cfg(live_env):
    catalog.forget_available_models()
    return config.resolve()["openai"]


def sent_tries(calls) -> list[str]:
    return [c["headers"].get("x-stainless-retry-count") for c in calls if c["path"] == "/v1/images/generations"]


def test_max_retries_zero_sends_a_failing_call_once(cfg, emulator_calls):
    failing = dataclasses.replace(cfg, extra_headers={"X-Emulator-Fault": "500"})
    with pytest.raises(ProviderDown) as caught:
        oi.generate(failing, model="gpt-image-2", prompt="a cat", size="1024x1024", quality="low", max_retries=0)
    assert caught.value.http_status == 500
    assert sent_tries(emulator_calls) == ["0"]


def test_the_default_budget_still_retries_twice(cfg, emulator_calls):
    failing = dataclasses.replace(cfg, extra_headers={"X-Emulator-Fault": "500"})
    with pytest.raises(ProviderDown):
        oi.generate(failing, model="gpt-image-2", prompt="a cat", size="1024x1024", quality="low")
    assert sent_tries(emulator_calls) == ["0", "1", "2"]


def test_a_call_with_no_retries_does_not_change_the_shared_client(cfg):
    assert oi._client(cfg, 0) is not oi._client(cfg)
    assert oi._client(cfg).max_retries == oi.MAX_RETRIES and oi._client(cfg, 0).max_retries == 0
