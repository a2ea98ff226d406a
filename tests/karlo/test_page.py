"""The Karlo page in demo mode, through AppTest: what lands in the store and ledger, and what a person reads."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_karlo_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/karlo.py").run()
    assert not at.exception, at.exception
    return at


def book():
    from lib.store import open_store

    return open_store()


def newest_row(at: AppTest):
    store, ledger = book()
    return store, ledger.get(at.session_state["karlo_row_ids"][0])


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def photo() -> bytes:
    rng = np.random.default_rng(8)
    return png(Image.fromarray(rng.integers(0, 256, (384, 384, 3), dtype=np.uint8)))


def generate(at: AppTest, prompt: str, samples: int = 1, seeds: str = "", fault: str | None = None) -> None:
    at.text_area(key="karlo_prompt").set_value(prompt)
    at.number_input(key="karlo_samples").set_value(samples)
    at.text_input(key="karlo_seeds").set_value(seeds).run()
    if fault:
        # The sidebar's fault picker; after switch_page AppTest runs the page alone, so it lasts one run.
        at.session_state["demo_fault"] = fault
    at.button(key="karlo_t2i_send").click().run()
    assert not at.exception, at.exception


def test_three_samples_store_three_images_with_their_seeds(studio_env):
    at = open_karlo_page()
    generate(at, "a lighthouse at dusk", samples=3)
    store, row = newest_row(at)
    assert (row.status, row.provider, row.backend, row.action) == ("ok", "karlo", "demo", "t2i")
    assert row.n_images == 3 and len(row.output_refs) == 3 and all(store.exists(sha) for sha in row.output_refs)
    seeds = row.usage_detail["seeds"]
    assert len(seeds) == 3 and len(set(seeds)) == 3
    assert (row.cost_usd, row.cost_source) == (0.0, "table")
    assert any(c.value == "Seeds: " + ", ".join(map(str, seeds)) for c in at.caption)
    at.run()  # the quota meter counts what this month made
    assert "3 of 500 free Karlo images used this month" in at.progress[0].proto.text


def test_the_same_seeds_redraw_the_same_images_and_reuse_restores_them(studio_env):
    at = open_karlo_page()
    generate(at, "a red tram in snow", samples=2, seeds="41, 42")
    _, first = newest_row(at)
    generate(at, "a red tram in snow", samples=2, seeds="41, 42")
    _, second = newest_row(at)
    assert first.id != second.id
    assert first.output_refs == second.output_refs  # content-addressed: same bytes, same files
    assert second.usage_detail["seeds"] == [41, 42]

    generate(at, "a paper crane", samples=2)
    _, random_row = newest_row(at)
    at.text_area(key="karlo_prompt").set_value("something else").run()
    at.button(key=f"card_{random_row.id}_reuse").click().run()
    assert at.text_area(key="karlo_prompt").value == "a paper crane"
    assert at.text_input(key="karlo_seeds").value == ", ".join(map(str, random_row.usage_detail["seeds"]))
    at.button(key="karlo_t2i_send").click().run()
    _, redrawn = newest_row(at)
    assert redrawn.output_refs == random_row.output_refs


def test_variation_upscale_and_nsfw_check_of_a_stored_result(studio_env):
    """One page visit: draw a picture, then vary it, upscale it ×2 and check it, each from the store."""
    at = open_karlo_page()
    generate(at, "a yellow kite")
    _, original = newest_row(at)
    made = Image.open(io.BytesIO(book()[0].read(original.output_refs[0]))).convert("RGB")

    at.segmented_control(key="karlo_var_source").set_value("Pick a stored result").run()
    at.button(key="karlo_var_send").click().run()
    assert not at.exception, at.exception
    store, row = newest_row(at)
    assert (row.status, row.action, row.endpoint) == ("ok", "variation", "/v2/inference/karlo/variations")
    assert len(row.output_refs) == 1 and store.exists(row.output_refs[0])
    sent = Image.open(io.BytesIO(store.read(row.input_refs[0]))).convert("RGB")
    assert sent.tobytes() == made.tobytes()  # the stored picture went out pixel for pixel

    at.segmented_control(key="karlo_up_source").set_value("Pick a stored result").run()
    at.selectbox(key="karlo_up_stored").set_value(original.output_refs[0]).run()
    at.button(key="karlo_up_send").click().run()
    assert not at.exception, at.exception
    _, row = newest_row(at)
    assert (row.status, row.action, row.width, row.height) == ("ok", "upscale", 1024, 1024)

    sky = png(Image.new("RGB", (64, 64), (40, 90, 200)))
    at.file_uploader(key="karlo_nsfw_uploads").set_value([("sky.png", sky, "image/png")]).run()
    at.button(key="karlo_nsfw_send").click().run()
    _, row = newest_row(at)
    assert row.status == "ok" and "**sky.png**: safe" in row.output_text
    assert any("sky.png" in m.value for m in at.markdown)


def test_inpainting_keeps_pixels_outside_the_mask(studio_env):
    at = open_karlo_page()
    at.file_uploader(key="karlo_inpaint_upload").set_value(("photo.png", photo(), "image/png")).run()
    mask = Image.new("L", (384, 384), 255)
    mask.paste(0, (96, 96, 288, 288))  # black = repaint
    at.file_uploader(key="karlo_mask_upload").set_value(("mask.png", png(mask), "image/png")).run()
    at.text_area(key="karlo_inpaint_prompt").set_value("a round window").run()
    at.button(key="karlo_inpaint_send").click().run()
    assert not at.exception, at.exception
    store, row = newest_row(at)
    assert (row.status, row.action) == ("ok", "inpaint") and row.mask_ref
    before = np.asarray(Image.open(io.BytesIO(store.read(row.input_refs[0]))).convert("RGB"))
    after = np.asarray(Image.open(io.BytesIO(store.read(row.output_refs[0]))).convert("RGB"))
    keep = np.asarray(mask) != 0
    assert np.array_equal(after[keep], before[keep])
    assert (after[~keep] != before[~keep]).any(axis=1).mean() > 0.9
    sent_mask = np.asarray(Image.open(io.BytesIO(store.read(row.mask_ref))))
    assert (sent_mask[~keep] == 0).all() and (sent_mask[keep] == 255).all()  # Karlo's convention went out


def test_a_korean_prompt_is_caught_and_translated(studio_env):
    at = open_karlo_page()
    at.text_area(key="karlo_prompt").set_value("노을 지는 바다 위의 등대").run()
    assert any("Korean" in w.value for w in at.warning)
    assert at.button(key="karlo_t2i_send").disabled
    at.button(key="karlo_prompt_translate").click().run()
    english = at.text_area(key="karlo_prompt").value
    assert english and not any("\uac00" <= ch <= "\ud7a3" for ch in english)
    assert not at.button(key="karlo_t2i_send").disabled


def test_the_translation_row_names_the_signed_in_person(studio_env, monkeypatch):
    import lib.ui.people
    from lib.people import Person

    alice = Person("header:alice", "alice")
    monkeypatch.setattr(lib.ui.people, "current_person", lambda: alice)
    at = open_karlo_page()
    at.text_area(key="karlo_prompt").set_value("노을 지는 바다 위의 등대").run()
    at.button(key="karlo_prompt_translate").click().run()
    assert not at.exception, at.exception
    [row] = [r for r in book()[1].rows() if r.action == "translate"]
    assert row.person == alice.key and row.status == "ok" and row.prompt == "노을 지는 바다 위의 등대"


FAULTS = [
    ("Karlo -9 API terminated", "Kakao has ended the Karlo API for this app", "-9"),
    ("Karlo -10 quota exceeded", "quota is used up", "-10"),
    ("Karlo -401 invalid key", "did not accept the REST API key", "-401"),
    ("HTML 502 from a proxy", "HTML page (HTTP 502)", None),
]


def test_failures_show_their_message_keep_the_prompt_and_write_a_row(studio_env):
    at = open_karlo_page()  # one page for all four: each click is a fresh call with its own fault
    for fault, message, code in FAULTS:
        generate(at, "a harbour at night", seeds="7", fault=fault)
        assert any(message in e.value for e in at.error), (fault, [e.value for e in at.error])
        assert at.text_area(key="karlo_prompt").value == "a harbour at night"
        assert at.text_input(key="karlo_seeds").value == "7"
        _, row = newest_row(at)
        assert row.status == "error" and row.error_code == code and row.prompt == "a harbour at night", fault
        assert row.output_refs == [] and row.endpoint == "/v2/inference/karlo/t2i"
    assert len(at.session_state["karlo_row_ids"]) == len(FAULTS)
