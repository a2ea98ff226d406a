"""The engine interface and registry: config, catalog and pricing follow the registered engines; one send path."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from lib import catalog, config, send
from lib.errors import ProviderDown
from lib.providers import karlo, registry
from lib.providers.base import EDIT, GENERATE, INPAINT, VARIATION


@pytest.fixture
def demo_cfgs(studio_env, emulator):
    return config.resolve(demo_base_urls={"openai": emulator.openai_base_url, "karlo": emulator.karlo_base_url})


def rows():
    from lib.store import open_store

    return open_store()[1].rows()


def png(size=(64, 64), color=(30, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def test_config_lists_every_registered_engine_with_its_own_key_and_base_url_variables(studio_env, monkeypatch):
    assert config.PROVIDERS == tuple(registry.ids())
    assert config.DISPLAY_NAMES == {e.id: e.label for e in registry.engines()}
    monkeypatch.setenv("STUDIO_DEMO", "0")
    for engine in registry.engines():
        for var in engine.key_vars:
            monkeypatch.delenv(var, raising=False)
    karlo_engine = registry.get("karlo")
    monkeypatch.setenv(karlo_engine.key_vars[0], "kakao-abc-123456789")
    monkeypatch.setenv(karlo_engine.base_url_var, "http://127.0.0.1:9/karlo")
    cfgs = config.resolve()
    assert (cfgs["karlo"].mode, cfgs["karlo"].key_source, cfgs["karlo"].base_url) == (
        "live", "environment", "http://127.0.0.1:9/karlo")
    assert cfgs["openai"].mode == "misconfigured" and "OPENAI_API_KEY" in cfgs["openai"].problem


def test_karlo_model_facts_come_from_the_catalog_once():
    rows_ = {m.id: m for m in catalog.engine_models("karlo")}
    assert set(rows_) == {"karlo-v2.1", "karlo-v2.0"}
    assert karlo.SIZE_RANGES == {"v2.1": (256, 1280), "v2.0": (384, 640)}
    engine = registry.get("karlo")
    size = next(s for s in engine.settings("karlo-v2.0") if s.name == "size")
    assert size.choices == rows_["karlo-v2.0"].sizes and size.custom
    assert engine.check("karlo-v2.0", GENERATE, "a cat", {"size": "1024x1024"}) == [
        ("size", "Width 1024 is outside Karlo v2.0's 384–640 px; pick a size within it.")]
    assert engine.check("karlo-v2.1", GENERATE, "고양이", {})[0][1].startswith("Karlo v2.1 reads English only.")


def test_capabilities_say_what_each_model_does():
    openai_engine, karlo_engine = registry.get("openai"), registry.get("karlo")
    gpt = openai_engine.capabilities("gpt-image-2")
    assert gpt.generate and gpt.edit_mask and gpt.reference_images == 16 and gpt.streaming_previews
    assert not gpt.negative_prompt and not gpt.english_only
    dalle2 = openai_engine.capabilities("dall-e-2")
    assert dalle2.variation and dalle2.reference_images == 1
    k = karlo_engine.capabilities("karlo-v2.1")
    assert k.generate and k.inpaint and k.variation and k.seed and k.negative_prompt and k.english_only and k.upscale
    # Karlo edits by inpainting only: inside a mask, no reference pictures (the Edit page then requires a mask)
    assert k.edit and k.reference_images == 0 and "mask" in gpt.edit_kind() and k.edit_kind() == "edits inside a mask"
    assert [m.id for m in karlo_engine.models(None, EDIT)] == ["karlo-v2.1", "karlo-v2.0"]
    assert {m.id for m in karlo_engine.models(None, INPAINT)} == {"karlo-v2.1", "karlo-v2.0"}
    assert "dall-e-2" in {m.id for m in openai_engine.models(None, VARIATION)}


def test_settings_describe_themselves_and_say_what_to_change():
    engine = registry.get("openai")
    names = [s.name for s in engine.settings("gpt-image-2")]
    assert names[:3] == ["size", "quality", "output_format"] and "partial_images" in names
    n = next(s for s in engine.settings("dall-e-3") if s.name == "n")
    assert (n.minimum, n.maximum) == (1, 1)
    problems = engine.check("gpt-image-2", GENERATE, "a fox", {"size": "1000x1024", "n": 1})
    assert problems == [("size", "Width 1000 is not a multiple of 16: use 992 or 1008.")]
    assert engine.check("dall-e-3", GENERATE, "", {"n": 2})[0] == (
        "prompt", "Write a prompt first: describe the picture you want.")


def test_send_generates_stores_and_prices_one_row(demo_cfgs):
    outcome = send.send(demo_cfgs["openai"], send.Request("openai", GENERATE, "gpt-image-2", "a red kite",
                                                          {"size": "1024x1024", "quality": "low", "n": 2}))
    assert outcome.ok and outcome.row.status == "ok" and outcome.row.n_images == 2
    assert outcome.row.cost_usd and outcome.row.cost_usd > 0 and outcome.row.page == "generate"
    [row] = rows()
    assert row.id == outcome.row.id and row.params["quality"] == "low"


def test_send_turns_a_refusal_a_provider_fault_and_a_bug_into_messages_and_rows(demo_cfgs, monkeypatch):
    refused = send.send(demo_cfgs["openai"], send.Request("openai", GENERATE, "gpt-image-2", "a fox",
                                                          {"size": "1000x1024"}))
    assert refused.error.message == "Width 1000 is not a multiple of 16: use 992 or 1008."
    faulted = send.send(demo_cfgs["openai"], send.Request("openai", GENERATE, "gpt-image-2", "a fox [fault:429]", {}))
    assert faulted.error is not None and "rate limit" in faulted.error.message

    engine = registry.get("karlo")

    def broken(*args, **kwargs):
        raise KeyError("demo-key")

    monkeypatch.setattr(engine, "generate", broken)
    bug = send.send(demo_cfgs["karlo"], send.Request("karlo", GENERATE, "karlo-v2.1", "a fox", {}))
    assert isinstance(bug.error, ProviderDown) and "failed unexpectedly" in bug.error.message
    assert "demo-key" not in bug.error.message
    statuses = sorted((r.provider, r.status, r.action) for r in rows())
    assert statuses == [("karlo", "error", "t2i"), ("openai", "error", "generate"), ("openai", "rejected", "generate")]


def test_a_billed_result_whose_finishing_fails_keeps_its_pictures_and_usage_on_an_error_row(demo_cfgs):
    def paste_back(result):
        raise ValueError("truncated")

    outcome = send.send(demo_cfgs["openai"], send.Request("openai", GENERATE, "gpt-image-2", "a boat",
                                                          {"size": "1024x1024", "quality": "low"}), after=paste_back)
    assert outcome.error is not None and "could not be finished" in outcome.error.message
    assert outcome.row.status == "error" and outcome.row.output_refs and outcome.row.cost_usd > 0


def test_a_ledger_that_cannot_write_still_hands_back_the_pictures(demo_cfgs):
    def full_disk(**fields):
        raise OSError("No space left on device")

    outcome = send.send(demo_cfgs["karlo"], send.Request("karlo", GENERATE, "karlo-v2.1", "a lighthouse",
                                                         {"size": "512x512", "seed": "7"}), record=full_disk)
    assert outcome.ok and outcome.result.images and outcome.row is None
    assert "could not be written to the ledger" in outcome.ledger_problem and "No space" in outcome.ledger_problem


def test_karlo_generate_vary_and_inpaint_go_through_the_interface(demo_cfgs):
    cfg = demo_cfgs["karlo"]
    made = send.send(cfg, send.Request("karlo", GENERATE, "karlo-v2.1", "a lighthouse", {"size": "640x512", "n": 2,
                                                                                         "seed": "11, 12"}, page="karlo"))
    assert made.ok, made.error
    assert (made.row.action, made.row.width, made.row.height) == ("t2i", 640, 512)
    assert made.row.params["seeds"] == [11, 12] and made.row.cost_source == "table"
    varied = send.send(cfg, send.Request("karlo", VARIATION, "karlo-v2.1", None, {"size": "512x512"},
                                         images=[png()], page="karlo"))
    assert varied.ok, varied.error
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 32, 32))  # transparent = repaint (studio convention)
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    painted = send.send(cfg, send.Request("karlo", INPAINT, "karlo-v2.1", "a red door", {}, images=[png()],
                                          mask=buffer.getvalue(), page="karlo"))
    assert painted.ok, painted.error
    assert sorted(r.action for r in rows()) == ["inpaint", "t2i", "variation"]
