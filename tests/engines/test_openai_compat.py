"""An OpenAI-compatible server as an engine: base URL required, key optional, the DALL·E contract, Azure's header."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from lib import catalog, config, send
from lib.errors import ContentRejected, StudioError
from lib.providers import openai_compat, registry
from lib.providers.base import GENERATE, VARIATION


def png(size=(256, 256)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 90, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def compat(studio_env, emulator, monkeypatch):
    catalog.forget_available_models()
    monkeypatch.setenv("STUDIO_DEMO", "0")
    monkeypatch.setenv("OPENAI_COMPAT_BASE_URL", emulator.compat_base_url)  # no key: a local server needs none
    return config.resolve()["openai_compat"]


def test_without_a_base_url_it_says_which_variable_to_set(studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_DEMO", "0")
    cfg = config.resolve()["openai_compat"]
    assert cfg.mode == "misconfigured" and "OPENAI_COMPAT_BASE_URL" in cfg.problem


def test_a_keyless_server_is_live_and_serves_the_dalle_contract_priced_from_the_table(compat):
    assert compat.mode == "live" and compat.key is None
    engine = registry.get("openai_compat")
    offered = [m.id for m in engine.models(compat, GENERATE)]
    assert offered[:2] == ["dall-e-3", "dall-e-2"] and "gpt-image-2" in offered
    assert engine.model("dall-e-3").warning is None  # retired on api.openai.com, not here
    made = send.send(compat, send.Request("openai_compat", GENERATE, "dall-e-3", "a lighthouse",
                                          engine.default_compare_settings("dall-e-3")))
    assert made.ok, made.error
    assert (made.row.provider, made.row.cost_usd, made.row.cost_source) == ("openai_compat", 0.04, "table")
    varied = send.send(compat, send.Request("openai_compat", VARIATION, "dall-e-2", None, {"n": 2, "size": "256x256"},
                                            images=[png()], page="variations"))
    assert varied.ok, varied.error
    assert varied.row.endpoint == "/v1/images/variations" and varied.row.n_images == 2


def test_the_azure_preset_sends_the_key_as_api_key_and_says_what_its_filter_did(compat, emulator_calls, monkeypatch):
    monkeypatch.setattr(openai_compat, "is_azure", lambda url: True)
    cfg = config.ProviderConfig("openai_compat", "live", compat.base_url, "azure-key-0123456789abcdef", "environment")
    engine = registry.get("openai_compat")
    engine.generate(cfg, model="dall-e-3", prompt="a boat", settings={"size": "1024x1024"})
    assert emulator_calls[-1]["headers"].get("api-key") == "azure-key-0123456789abcdef"

    def filtered(c):
        raise StudioError("Your task failed as a result of our safety system.", provider="openai", http_status=400,
                          code="contentFilter")

    with pytest.raises(ContentRejected) as caught:
        engine._as_azure(cfg, filtered)
    assert "content filter refused" in caught.value.message and caught.value.code == "contentFilter"


def test_an_azure_url_without_the_v1_path_says_which_url_to_use(studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_DEMO", "0")
    monkeypatch.setenv("OPENAI_COMPAT_BASE_URL", "https://studio-test.openai.azure.com/openai/deployments/img")
    monkeypatch.setenv("OPENAI_COMPAT_API_KEY", "azure-key-0123456789abcdef")
    cfg = config.resolve()["openai_compat"]
    assert cfg.mode == "misconfigured"
    assert "https://studio-test.openai.azure.com/openai/v1" in cfg.problem
    monkeypatch.setenv("OPENAI_COMPAT_BASE_URL", "https://studio-test.openai.azure.com/openai/v1")
    assert config.resolve()["openai_compat"].mode == "live"
