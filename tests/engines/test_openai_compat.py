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


def test_an_azure_url_of_neither_form_says_which_urls_to_use(studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_DEMO", "0")
    monkeypatch.setenv("OPENAI_COMPAT_API_KEY", "azure-key-0123456789abcdef")
    monkeypatch.setenv("OPENAI_COMPAT_BASE_URL", "https://studio-test.openai.azure.com/openai")
    cfg = config.resolve()["openai_compat"]
    assert cfg.mode == "misconfigured"
    assert "https://studio-test.openai.azure.com/openai/v1" in cfg.problem
    assert "https://studio-test.openai.azure.com/openai/deployments/<deployment>/images/generations" in cfg.problem
    monkeypatch.setenv("OPENAI_COMPAT_BASE_URL", "https://studio-test.openai.azure.com/openai/deployments/img")
    cfg = config.resolve()["openai_compat"]  # Azure needs an api-version on deployment URLs
    assert cfg.mode == "misconfigured" and "?api-version=2025-04-01-preview" in cfg.problem
    monkeypatch.setenv("OPENAI_COMPAT_BASE_URL",  # the v1 URL copied with its operation: the app adds that itself
                       "https://studio-test.openai.azure.com/openai/v1/images/generations?api-version=preview")
    cfg = config.resolve()["openai_compat"]
    assert cfg.mode == "misconfigured" and "https://studio-test.openai.azure.com/openai/v1 itself" in cfg.problem
    for usable in ("https://studio-test.openai.azure.com/openai/v1",
                   "https://studio-test.openai.azure.com/openai/deployments/img/images/generations"
                   "?api-version=2025-04-01-preview"):
        monkeypatch.setenv("OPENAI_COMPAT_BASE_URL", usable)
        assert config.resolve()["openai_compat"].mode == "live"


AZURE_KEY = "azure-key-0123456789abcdef"


@pytest.fixture
def deployment(studio_env, emulator, monkeypatch):
    """The compatible engine pointed at a deployment URL as Azure's portal shows it (the emulator's /azure face)."""
    def configure(name="gpt-image-1.5", api_version="2025-04-01-preview"):
        catalog.forget_available_models()
        monkeypatch.setenv("STUDIO_DEMO", "0")
        monkeypatch.setenv("OPENAI_COMPAT_API_KEY", AZURE_KEY)
        monkeypatch.setenv("OPENAI_COMPAT_BASE_URL", f"{emulator.base_url}/azure/openai/deployments/{name}"
                                                     f"/images/generations?api-version={api_version}")
        return config.resolve()["openai_compat"]

    return configure


def test_generate_through_an_azure_deployment_url_offers_that_deployment_and_records_a_priced_row(deployment,
                                                                                                  emulator_calls):
    cfg = deployment()
    assert cfg.mode == "live", cfg.problem
    engine = registry.get("openai_compat")
    assert [m.id for m in engine.models(cfg, GENERATE)] == ["gpt-image-1.5"]  # the deployment is the one model
    made = send.send(cfg, send.Request("openai_compat", GENERATE, "gpt-image-1.5", "a lighthouse at dusk",
                                       {"size": "1024x1024", "quality": "low"}))
    assert made.ok, made.error
    assert made.row.n_images == 1 and made.row.cost_usd and made.row.provider == "openai_compat"
    sent = emulator_calls[-1]
    assert sent["path"] == "/azure/openai/deployments/gpt-image-1.5/images/generations"
    assert sent["headers"].get("api-key") == AZURE_KEY  # Azure's header, from the SDK's AzureOpenAI client


@pytest.mark.parametrize("fault, what", [("content_filter", "this request"), ("output_filtered", "the picture it made"),
                                         ("moderation_blocked", "this request")])
def test_azures_content_filter_is_said_in_words_on_a_deployment_url(deployment, fault, what):
    cfg = deployment()
    made = send.send(cfg, send.Request("openai_compat", GENERATE, "gpt-image-1.5", f"a storm [fault:{fault}]",
                                       {"size": "1024x1024", "quality": "low"}))
    assert isinstance(made.error, ContentRejected), made.error
    assert f"content filter refused {what}" in made.error.message and "Rephrase the prompt" in made.error.message
    assert made.row.status == "rejected"


def test_an_unknown_deployment_or_api_version_on_azure_is_said_in_words(deployment):
    cfg = deployment(name="no-such-deployment")
    made = send.send(cfg, send.Request("openai_compat", GENERATE, "no-such-deployment", "a kite", {"size": "1024x1024"}))
    assert "no deployment named 'no-such-deployment'" in made.error.message, made.error
    cfg = deployment(api_version="2019-01-01")
    made = send.send(cfg, send.Request("openai_compat", GENERATE, "gpt-image-1.5", "a kite", {"size": "1024x1024"}))
    assert "api-version 2019-01-01" in made.error.message and "?api-version=2025-04-01-preview" in made.error.message


@pytest.mark.parametrize("fault, says", [("401", "OPENAI_COMPAT_API_KEY"), ("500", "OpenAI-compatible server had")])
def test_a_compatible_servers_errors_name_that_server_and_its_variables(compat, fault, says):
    """Its refusals point at what to change for *it*: OPENAI_COMPAT_*, not OpenAI's own variables."""
    cfg = config.ProviderConfig("openai_compat", "live", compat.base_url, None, "environment",
                                extra_headers={"X-Emulator-Fault": fault})
    made = send.send(cfg, send.Request("openai_compat", GENERATE, "dall-e-3", "a lighthouse",
                                       registry.get("openai_compat").default_compare_settings("dall-e-3")))
    assert says in made.error.message and "OPENAI_API_KEY" not in made.error.message
    assert made.row.status in ("error", "rejected") and made.row.error_message == made.error.message
