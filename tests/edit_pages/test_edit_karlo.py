"""Karlo on the Edit page: its inpainting is a mask edit behind the same interface (issue 13: Edit lists every
engine that edits with a mask or with references, and says which of the two the chosen one does)."""
from __future__ import annotations

import numpy as np

from tests.edit_pages.helpers import HOLE, H, W, hole_mask, ledger, open_edit_page, photo, pixels


def pick_karlo(at):
    at.radio(key="edit_engine").set_value("Karlo").run()
    assert not at.exception, at.exception
    return at


def test_karlo_is_offered_on_edit_and_says_it_repaints_inside_a_mask(studio_env):
    at = open_edit_page()
    assert "Karlo" in at.radio(key="edit_engine").options
    pick_karlo(at)
    assert any("edits inside a mask" in c.value for c in at.caption)
    at.file_uploader(key="edit_images").set_value(("photo.png", photo(), "image/png")).run()
    at.text_area(key="edit_prompt").set_value("a red balloon").run()
    # No mask yet: said in words, and nothing can be sent.
    assert any("repaints only inside a mask" in i.value for i in at.info)
    assert at.button(key="edit_send").disabled
    assert ledger()[1].rows() == []


def test_karlo_inpainting_changes_only_the_masked_pixels_and_records_a_row(studio_env):
    at = pick_karlo(open_edit_page())
    upload = photo()
    at.file_uploader(key="edit_images").set_value(("photo.png", upload, "image/png")).run()
    at.file_uploader(key="edit_mask_upload").set_value(("mask.png", hole_mask(), "image/png"))
    at.text_area(key="edit_prompt").set_value("a red balloon").run()
    at.toggle(key="edit_keep").set_value(False).run()  # Karlo's inpainting is exact by itself: no paste-back
    at.button(key="edit_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store, book = ledger()
    row = book.get(at.session_state["edit_row_ids"][0])
    assert row.status == "ok" and row.provider == "karlo" and row.page == "edit" and row.mask_ref
    assert row.cost_usd == 0  # within Karlo's free quota, and the card says so in words
    assert any("no charge" in c.value and "$0.0000" not in c.value for c in at.caption)
    out, original = pixels(store.read(row.output_refs[0])), pixels(upload)
    keep = np.ones((H, W), bool)
    keep[HOLE] = False
    assert out.shape == original.shape
    assert np.array_equal(out[keep][..., :3], original[keep][..., :3])
    assert not np.array_equal(out[~keep], original[~keep])


def test_a_korean_prompt_is_refused_in_words_and_stays(studio_env):
    at = pick_karlo(open_edit_page())
    at.file_uploader(key="edit_images").set_value(("photo.png", photo(), "image/png")).run()
    at.file_uploader(key="edit_mask_upload").set_value(("mask.png", hole_mask(), "image/png"))
    at.text_area(key="edit_prompt").set_value("빨간 풍선").run()
    at.button(key="edit_send").click().run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "English only" in shown and "translate it first" in shown, shown
    assert at.text_area(key="edit_prompt").value == "빨간 풍선"
    rows = ledger()[1].rows()
    assert len(rows) == 1 and rows[0].status == "rejected"  # the refusal is on the ledger, nothing was sent
