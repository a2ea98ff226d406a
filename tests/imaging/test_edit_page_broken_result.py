"""The Edit page against a provider that sends a cut-off picture, with paste-back on: a message in words and an
error row with no picture, never an `ok` card without one (and no traceback)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.edit_pages.helpers import hole_mask, ledger, open_edit_page, photo
from tests.imaging import fake_provider


@pytest.fixture(autouse=True)
def no_legacy_pages_rerun(monkeypatch):  # as in tests/edit_pages/conftest.py
    monkeypatch.setattr("lib.ui.session._leave_legacy_pages_mode", lambda: None, raising=False)


def _cut_off(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _corrupt_middle(data: bytes) -> bytes:  # whole to the end marker, so only the decode finds it
    middle = len(data) // 2
    return data[:middle] + bytes(400) + data[middle + 400:]


@pytest.mark.parametrize(("damage", "words", "code"), [
    (_cut_off, "The picture OpenAI sent is cut off", "truncated_image"),
    (_corrupt_middle, "The edited picture is damaged", "broken_image"),
])
def test_broken_result_with_paste_back_is_an_error_row(studio_env, monkeypatch, damage, words, code):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(9).integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(buf, "PNG")
    fake = fake_provider.start(damage(buf.getvalue()))
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-provider-0123456789")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        at = open_edit_page()
        at.file_uploader(key="edit_images").set_value(("photo.png", photo(), "image/png")).run()
        at.file_uploader(key="edit_mask_upload").set_value(("mask.png", hole_mask(), "image/png"))
        at.text_area(key="edit_prompt").set_value("a red balloon").run()
        assert at.toggle(key="edit_keep").value is True  # the paste-back is on
        at.button(key="edit_send").click().run()
    finally:
        fake.server.shutdown()
    assert not at.exception, at.exception
    assert fake.uploads, "the edit was sent"
    errors = " ".join(e.value for e in at.error)
    assert words in errors
    _store, book = ledger()
    row = book.get(at.session_state["edit_row_ids"][0])
    assert (row.status, row.error_code) == ("error", code)
    assert row.output_refs == [] and row.input_refs and row.mask_ref
    assert book.frame(statuses="ok").empty
