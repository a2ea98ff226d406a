"""The Edit page when the call fails: the message shows, the inputs stay, the ledger keeps an error row."""
from __future__ import annotations

import pytest

from tests.edit_pages.helpers import hole_mask, ledger, open_edit_page, photo


@pytest.mark.parametrize(
    ("sidebar_fault", "prompt", "message", "status", "code"),
    [
        ("moderation_blocked", "a red balloon", "safety system", "rejected", "moderation_blocked"),
        ("model_not_found", "a red balloon", "gpt-image", "error", "model_not_found"),
        ("malformed reply", "a red balloon", "could not read", "error", "malformed_response"),
        (None, "[fault:401] a red balloon", "Check OPENAI_API_KEY", "error", "invalid_api_key"),  # typed in the prompt
    ],
)
def test_injected_fault_shows_message_keeps_inputs_and_writes_an_error_row(
    studio_env, sidebar_fault, prompt, message, status, code
):
    at = open_edit_page()
    upload = photo()
    at.file_uploader(key="edit_images").set_value(("photo.png", upload, "image/png")).run()
    at.file_uploader(key="edit_mask_upload").set_value(("mask.png", hole_mask(), "image/png"))
    at.text_area(key="edit_prompt").set_value(prompt).run()
    if sidebar_fault:
        at.session_state["demo_fault"] = sidebar_fault  # the sidebar's choice (AppTest runs the page alone)
    at.button(key="edit_send").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert message in errors
    assert at.text_area(key="edit_prompt").value == prompt
    assert at.button(key="edit_send").disabled is False  # the upload and mask are still there: try again at once
    assert [f.name for f in at.file_uploader(key="edit_images").value] == ["photo.png"]
    assert at.file_uploader(key="edit_mask_upload").value.name == "mask.png"
    store, book = ledger()
    row = book.get(at.session_state["edit_row_ids"][0])
    assert (row.status, row.error_code) == (status, code)
    assert row.prompt == prompt and row.input_refs and row.mask_ref
    assert row.output_refs == []
