"""The Edit page in demo mode, driven like a person would: upload, mask, prompt, Edit."""
from __future__ import annotations

import io
import sys
import types

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.edit_pages.helpers import HOLE, H, W, hole_mask, ledger, open_edit_page, photo, pixels, png


def assert_only_the_hole_changed(at: AppTest, upload: bytes) -> None:
    store, book = ledger()
    row = book.get(at.session_state["edit_row_ids"][0])
    assert row.status == "ok" and row.action == "edit" and row.page == "edit"
    assert len(row.output_refs) == 1 and row.mask_ref and len(row.input_refs) == 1
    assert row.params["keep_outside_mask"] is True
    out, original = pixels(store.read(row.output_refs[0])), pixels(upload)
    keep = np.ones((H, W), bool)
    keep[HOLE] = False
    assert out.shape == original.shape
    assert np.array_equal(out[keep], original[keep])  # outside the mask: byte for byte the upload
    assert not np.array_equal(out[~keep], original[~keep])  # inside: the model's work
    captions = " ".join(c.value for c in at.caption)
    assert "Kept every pixel outside the mask" in captions


def test_uploaded_mask_edit_changes_only_masked_pixels(studio_env):
    at = open_edit_page()
    upload = photo()
    at.file_uploader(key="edit_images").set_value(("photo.png", upload, "image/png")).run()
    at.file_uploader(key="edit_mask_upload").set_value(("mask.png", hole_mask(), "image/png"))
    at.text_area(key="edit_prompt").set_value("a red balloon").run()
    at.button(key="edit_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert_only_the_hole_changed(at, upload)


def test_without_paste_back_the_model_redraws_outside_the_mask(studio_env):
    """GPT Image models treat the mask as guidance: only the paste-back makes the rest byte-exact."""
    at = open_edit_page()
    upload = photo()
    at.file_uploader(key="edit_images").set_value(("photo.png", upload, "image/png")).run()
    at.file_uploader(key="edit_mask_upload").set_value(("mask.png", hole_mask(), "image/png"))
    at.text_area(key="edit_prompt").set_value("a red balloon").run()
    at.toggle(key="edit_keep").set_value(False).run()
    at.button(key="edit_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store, book = ledger()
    row = book.get(at.session_state["edit_row_ids"][0])
    assert row.params["keep_outside_mask"] is False
    raw = Image.open(io.BytesIO(store.read(row.output_refs[0])))
    assert raw.size != (W, H)  # what the model sent: its own size (sides in multiples of 16), not the upload's
    out = pixels(png(raw.convert("RGBA")))[..., :3].astype(int)
    sent = pixels(png(Image.open(io.BytesIO(upload)).convert("RGBA").resize(raw.size, Image.Resampling.BILINEAR)))
    sent = sent[..., :3].astype(int)
    far = (slice(0, 80), slice(0, raw.width))  # well above the hole
    assert not np.array_equal(out[far], sent[far])  # the model re-drew pixels outside the mask
    assert np.abs(out[far] - sent[far]).mean() < 6  # though it is the same picture
    assert np.abs(out[HOLE] - sent[HOLE]).mean() > 20  # and repainted the hole


def test_painted_mask_works_the_same(studio_env, monkeypatch):
    # The canvas cannot be driven in AppTest: stand in for it with a synthetic drawing layer.
    canvas_calls = []

    def fake_canvas(**kwargs):
        canvas_calls.append(kwargs)
        layer = np.zeros((kwargs["height"], kwargs["width"], 4), np.uint8)
        sy, sx = kwargs["height"] / H, kwargs["width"] / W
        layer[int(100 * sy):int(200 * sy), int(100 * sx):int(300 * sx)] = (255, 0, 170, 140)
        return types.SimpleNamespace(image_data=layer)

    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", types.SimpleNamespace(st_canvas=fake_canvas))
    at = open_edit_page()
    upload = photo()
    at.file_uploader(key="edit_images").set_value(("photo.png", upload, "image/png")).run()
    at.session_state["edit_mask_source"] = "Paint the mask"
    at.text_area(key="edit_prompt").set_value("a red balloon").run()
    assert canvas_calls and canvas_calls[-1]["background_image"]  # the picture is under the brush
    at.button(key="edit_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert_only_the_hole_changed(at, upload)


def test_all_opaque_mask_is_flagged_and_not_sent(studio_env):
    at = open_edit_page()
    at.file_uploader(key="edit_images").set_value(("photo.png", photo(), "image/png")).run()
    opaque = png(Image.new("RGBA", (W, H), (255, 255, 255, 255)))
    at.file_uploader(key="edit_mask_upload").set_value(("mask.png", opaque, "image/png"))
    at.text_area(key="edit_prompt").set_value("a red balloon").run()
    assert any("nothing would be edited" in w.value for w in at.warning)
    assert at.button(key="edit_send").disabled  # AppTest, like a browser, cannot press it
    assert ledger()[1].count() == 0


def test_fixes_are_reported_in_plain_words(studio_env):
    at = open_edit_page()
    stored = np.zeros((100, 200, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, format="JPEG", exif=exif.tobytes())
    small_grey_mask = io.BytesIO()
    Image.new("L", (50, 100), 0).save(small_grey_mask, format="PNG")
    at.file_uploader(key="edit_images").set_value(("phone.jpg", buf.getvalue(), "image/jpeg")).run()
    at.file_uploader(key="edit_mask_upload").set_value(("mask.png", small_grey_mask.getvalue(), "image/png")).run()
    captions = " ".join(c.value for c in at.caption)
    assert "turned it upright as its EXIF orientation says" in captions
    assert "Converted" not in captions  # an opaque photo goes to the model as a JPEG, as it came
    assert "read from its brightness: black = edit, white = keep" in captions
    assert "Resized the mask from 50×100 to 100×200" in captions
    assert any("whole image would be edited" in w.value for w in at.warning)


def test_unreadable_upload_says_why_and_blocks_sending(studio_env):
    at = open_edit_page()
    at.file_uploader(key="edit_images").set_value(("notes.png", b"just some text\n", "image/png")).run()
    assert not at.exception
    assert any("contains text, not an image" in e.value for e in at.error)
    assert at.button(key="edit_send").disabled


def test_real_canvas_tab_opens_and_nothing_painted_means_no_mask(studio_env):
    # The real component renders in AppTest but cannot be drawn on: the page must carry on without a mask.
    at = open_edit_page()
    at.file_uploader(key="edit_images").set_value(("photo.png", photo(), "image/png")).run()
    at.session_state["edit_mask_source"] = "Paint the mask"
    at.run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "Paint over what should change" in captions
    assert "No mask: the model may change the whole picture." in captions
    assert at.toggle(key="edit_keep").disabled  # nothing to keep outside of


def test_legacy_dalle2_edit_crops_image_and_mask_alike(compat_env):  # DALL·E lives on OpenAI-compatible servers now
    at = open_edit_page()
    upload = photo()  # 400x300: dall-e-2 needs a square
    at.file_uploader(key="edit_images").set_value(("photo.png", upload, "image/png")).run()
    at.selectbox(key="edit_model").set_value("dall-e-2").run()
    assert [f.name for f in at.file_uploader(key="edit_images").value] == ["photo.png"]  # kept across the switch
    at.file_uploader(key="edit_mask_upload").set_value(("mask.png", hole_mask(), "image/png"))
    at.text_area(key="edit_prompt").set_value("a red balloon").run()
    captions = " ".join(c.value for c in at.caption)
    assert "Cropped the centre 300×300 square out of 400×300" in captions
    assert "Cropped the mask's centre square" in captions
    at.button(key="edit_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store, book = ledger()
    row = book.get(at.session_state["edit_row_ids"][0])
    assert row.status == "ok" and row.model == "dall-e-2" and row.endpoint == "/v1/images/edits"
    out = pixels(store.read(row.output_refs[0]))
    original = pixels(upload)[:, 50:350]  # the centre square that was sent
    keep = np.ones((300, 300), bool)
    keep[100:200, 50:250] = False  # the hole, shifted by the crop
    assert out.shape == (300, 300, 4)
    assert np.array_equal(out[keep], original[keep])


def test_reuse_these_settings_refills_the_form(studio_env):
    at = open_edit_page()
    at.file_uploader(key="edit_images").set_value(("photo.png", photo(), "image/png"))
    at.text_area(key="edit_prompt").set_value("a red balloon").run()
    at.selectbox(key="edit_quality").set_value("high").run()
    at.button(key="edit_send").click().run()
    row_id = at.session_state["edit_row_ids"][0]
    at.text_area(key="edit_prompt").set_value("something else")
    at.selectbox(key="edit_quality").set_value("low").run()
    at.button(key=f"card_{row_id}_reuse").click().run()
    assert not at.exception, at.exception
    assert at.text_area(key="edit_prompt").value == "a red balloon"
    assert at.selectbox(key="edit_quality").value == "high"
