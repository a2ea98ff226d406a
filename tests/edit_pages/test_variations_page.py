"""The Variations page in demo mode: from an upload or a stored result, GPT edits or the legacy endpoint."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def png(width=400, height=300, seed=3) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def open_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/variations.py").run()
    assert not at.exception, at.exception
    return at


def ledger():
    from lib.store import open_store

    return open_store()


def last_row(at: AppTest):
    return ledger()[1].get(at.session_state["var_last_row"])


def test_variation_of_an_upload_lands_in_store_and_ledger(studio_env):
    at = open_page()
    at.file_uploader(key="var_upload").set_value(("cat.png", png(), "image/png")).run()
    at.text_area(key="var_prompt").set_value("Same cat, but in winter")
    at.number_input(key="var_n").set_value(2).run()
    at.button(key="var_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store, book = ledger()
    row = last_row(at)
    assert (row.status, row.action, row.page, row.model) == ("ok", "variation", "variations", "gpt-image-2")
    assert row.endpoint == "/v1/images/edits" and row.prompt == "Same cat, but in winter"
    assert len(row.output_refs) == 2 and all(store.exists(sha) for sha in row.output_refs)
    assert len(row.input_refs) == 1
    # The original stands beside its variations.
    assert "Original and variations" in [s.value for s in at.subheader]
    assert any("Original" in caption for image in at.image for caption in image.captions)


def test_variation_of_a_stored_result(studio_env):
    at = open_page()
    at.file_uploader(key="var_upload").set_value(("cat.png", png(), "image/png")).run()
    at.number_input(key="var_n").set_value(1).run()
    at.button(key="var_send").click().run()
    first = last_row(at)
    at.segmented_control(key="var_source").set_value("Pick a stored result").run()
    stored = at.selectbox(key="var_stored")
    assert stored.value == first.output_refs[0]  # the newest result is offered first
    at.button(key="var_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    second = last_row(at)
    assert second.id != first.id and second.status == "ok"
    assert second.params["source"] == "store" and second.params["source_ref"] == first.output_refs[0]
    store, _ = ledger()
    sent = np.asarray(Image.open(io.BytesIO(store.read(second.input_refs[0]))).convert("RGB"))
    picked = np.asarray(Image.open(io.BytesIO(store.read(first.output_refs[0]))).convert("RGB"))
    assert np.array_equal(sent, picked)  # it really started from the stored picture


def test_legacy_dalle2_goes_through_the_variations_endpoint_with_a_square(compat_env):  # DALL·E lives on OpenAI-compatible servers now
    at = open_page()
    at.selectbox(key="var_model").set_value("dall-e-2").run()
    assert not any(t.key == "var_prompt" for t in at.text_area)  # the legacy endpoint takes no prompt
    at.file_uploader(key="var_upload").set_value(("wide.png", png(600, 300), "image/png")).run()
    assert any("Cropped the centre 300×300 square" in c.value for c in at.caption)
    at.selectbox(key="var_size").set_value("256x256")
    at.button(key="var_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    row = last_row(at)
    assert row.endpoint == "/v1/images/variations" and row.status == "ok" and row.prompt is None
    assert (row.width, row.height) == (256, 256)


def test_fault_keeps_the_upload_and_prompt_and_writes_an_error_row(studio_env):
    at = open_page()
    at.file_uploader(key="var_upload").set_value(("cat.png", png(), "image/png")).run()
    at.text_area(key="var_prompt").set_value("Same cat, at night").run()
    at.session_state["demo_fault"] = "moderation_blocked"
    at.button(key="var_send").click().run()
    assert not at.exception
    assert "safety system" in " ".join(e.value for e in at.error)
    assert at.text_area(key="var_prompt").value == "Same cat, at night"
    assert at.file_uploader(key="var_upload").value.name == "cat.png"
    row = last_row(at)
    assert (row.status, row.error_code, row.action) == ("rejected", "moderation_blocked", "variation")
    assert row.input_refs and row.output_refs == []


def test_without_a_key_and_demo_forbidden_the_page_says_what_to_do(studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_DEMO", "0")
    at = open_page()
    assert any("No openai key: set OPENAI_API_KEY" in e.value for e in at.error)
    assert any("KAKAO_REST_API_KEY" in e.value for e in at.error)  # every engine that could vary says what it needs
    assert not [b for b in at.button if b.key == "var_send"]  # nothing to press until one is set up
