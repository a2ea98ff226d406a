"""The Edit page with a camera photo, against the (strict) emulator: what is sent is a 2048 px JPEG with a mask of
the same size, the result is stored at that size, and outside the mask it is the picture that was sent."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.edit_pages.helpers import ledger, open_edit_page


@pytest.fixture(autouse=True)
def no_legacy_pages_rerun(monkeypatch):  # as in tests/edit_pages/conftest.py
    monkeypatch.setattr("lib.ui.session._leave_legacy_pages_mode", lambda: None, raising=False)


def test_camera_photo_is_sent_at_the_models_size_and_pasted_back_there(studio_env):
    y, x = np.mgrid[0:2000, 0:3000].astype(np.float32)
    rgb = np.stack([x / 3000 * 255, y / 2000 * 255, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    mask = np.full((200, 300, 4), 255, np.uint8)
    mask[50:150, 100:200, 3] = 0  # the middle ninth may change
    mask_buf = io.BytesIO()
    Image.fromarray(mask, "RGBA").save(mask_buf, "PNG")

    at = open_edit_page()
    at.file_uploader(key="edit_images").set_value(("camera.jpg", buf.getvalue(), "image/jpeg")).run()
    at.file_uploader(key="edit_mask_upload").set_value(("mask.png", mask_buf.getvalue(), "image/png"))
    at.text_area(key="edit_prompt").set_value("a red kite").run()
    captions = " ".join(c.value for c in at.caption)
    assert "Downscaled from 3000×2000 to 2048×1365 px" in captions
    at.button(key="edit_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    store, book = ledger()
    row = book.get(at.session_state["edit_row_ids"][0])
    assert row.status == "ok" and (row.width, row.height) == (2048, 1365)
    sent = Image.open(io.BytesIO(store.read(row.input_refs[0])))
    assert (sent.format, sent.size) == ("JPEG", (2048, 1365))
    assert Image.open(io.BytesIO(store.read(row.mask_ref))).size == (2048, 1365)
    out = np.asarray(Image.open(io.BytesIO(store.read(row.output_refs[0]))).convert("RGB")).astype(int)
    original = np.asarray(sent.convert("RGB")).astype(int)
    assert np.abs(out[:300] - original[:300]).mean() < 2  # kept: the picture that was sent
    assert np.abs(out[600:800, 900:1100] - original[600:800, 900:1100]).mean() > 10  # inside: the model's work
