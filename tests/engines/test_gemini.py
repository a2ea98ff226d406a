"""Gemini as an engine: through the send path and the pages, in demo mode and live against the emulator."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lib import config, send
from lib.errors import ContentRejected, QuotaExceeded
from lib.providers.base import EDIT, GENERATE
from lib.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def png(size=(120, 80), colour=(40, 160, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def live(studio_env, emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-live-test-key-0123456789")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.gemini_base_url)
    cfg = config.resolve()["gemini"]
    assert (cfg.mode, cfg.key_source) == ("live", "environment")
    return cfg


def test_a_gemini_picture_is_stored_and_priced_from_its_token_usage(live):
    outcome = send.send(live, send.Request("gemini", GENERATE, "gemini-3-pro-image", "a lighthouse at dusk",
                                           {"aspect_ratio": "3:2", "image_size": "1K"}))
    assert outcome.ok, outcome.error
    row = outcome.row
    assert (row.provider, row.backend, row.width, row.height) == ("gemini", "live", 1024, 688)
    assert row.usage_detail["output_image_tokens"] == 1120 and row.cost_source == "computed"
    assert 0.12 < row.cost_usd < 0.15  # about $0.134 a 1K picture (gemini-image-api.md §11)
    assert row.params["aspect_ratio"] == "3:2" and row.endpoint.endswith("gemini-3-pro-image:generateContent")


def test_safety_blocks_quota_and_bad_settings_come_back_in_words_with_a_row(live):
    blocked = send.send(live, send.Request("gemini", GENERATE, "gemini-3-pro-image", "a fox [fault:prompt_blocked]", {}))
    assert isinstance(blocked.error, ContentRejected) and "PROHIBITED_CONTENT" in blocked.error.message
    withheld = send.send(live, send.Request("gemini", GENERATE, "gemini-3-pro-image", "a fox [fault:image_safety]", {}))
    assert isinstance(withheld.error, ContentRejected) and "withheld" in withheld.error.message
    limited = send.send(live, send.Request("gemini", GENERATE, "gemini-3-pro-image", "a fox [fault:429]", {}))
    assert isinstance(limited.error, QuotaExceeded) and limited.error.retry_after == 26
    wrong = send.send(live, send.Request("gemini", GENERATE, "gemini-3-pro-image", "a fox", {"image_size": "512"}))
    assert "Image size '512' is not offered" in wrong.error.message
    rows = open_store()[1].rows()
    assert sorted(r.status for r in rows) == ["error", "rejected", "rejected", "rejected"]


def test_generate_page_offers_gemini_in_demo_mode(studio_env):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/generate.py")
    at.run()
    at.radio(key="gen_engine").set_value("gemini").run()
    assert at.selectbox(key="gen_model").value == "gemini-3-pro-image"
    at.text_area(key="gen_prompt").set_value("a paper boat on a pond")
    at.selectbox(key="gen_aspect_ratio").set_value("16:9")
    next(b for b in at.button if b.label == "Generate").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [row] = open_store()[1].rows()
    assert (row.provider, row.backend, row.status, row.width, row.height) == ("gemini", "demo", "ok", 1024, 576)
    assert len(at.image) == 1


def test_edit_page_says_gemini_edits_by_instruction_and_sends_every_reference(studio_env):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/edit.py")
    at.run()
    at.radio(key="edit_engine").set_value("gemini").run()
    assert any("edits by instruction (no mask) from up to 14 reference images" in c.value for c in at.caption)
    at.file_uploader(key="edit_images").set_value([("cat.png", png(), "image/png"),
                                                   ("sofa.png", png(colour=(90, 40, 160)), "image/png")]).run()
    assert not [t for t in at.tabs if "mask" in t.label.lower()]  # no mask to draw for an engine that takes none
    at.text_area(key="edit_prompt").set_value("put the cat on the sofa").run()
    at.button(key="edit_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [row] = open_store()[1].rows()
    assert (row.provider, row.action, row.status, len(row.input_refs)) == ("gemini", EDIT, "ok", 2)
    assert row.params["reference_images"] == 2 and row.mask_ref is None


def test_models_the_listing_names_are_offered_too_and_can_make_a_picture(live):
    from lib.providers import gemini, registry

    engine = registry.get("gemini")
    offered = [m.id for m in engine.models(live, GENERATE)]
    assert offered[:3] == ["gemini-3-pro-image", "gemini-3.1-flash-image", "gemini-3.1-flash-lite-image"]
    assert "gemini-nano-banana-2.1" in offered  # not in the catalog, but the key's listing has it
    assert gemini.listed_model_ids(live) is gemini.listed_model_ids(live)  # asked once, then cached
    made = send.send(live, send.Request("gemini", GENERATE, "gemini-nano-banana-2.1", "a kite", {}))
    assert made.ok, made.error
    assert made.row.cost_source in ("computed", "unpriced")
