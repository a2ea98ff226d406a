"""The Edit page through an Azure OpenAI deployment (the OpenAI-compatible engine at a deployment URL, the
emulator's /azure face): a masked edit keeps every pixel outside the mask and leaves a priced row naming the engine;
several reference pictures go to one edit; Azure's refusals are said in words that name the variable to change."""
from __future__ import annotations

import numpy as np
import pytest

from lib import catalog
from tests.edit_pages.helpers import HOLE, H, W, hole_mask, ledger, open_edit_page, photo, pixels

AZURE_KEY = "azure-key-0123456789abcdef"


@pytest.fixture
def azure_deployment(studio_env, emulator, monkeypatch):
    def configure(name="gpt-image-1.5", api_version="2025-04-01-preview", v1=False):
        catalog.forget_available_models()
        monkeypatch.setenv("STUDIO_DEMO", "0")
        monkeypatch.setenv("OPENAI_COMPAT_API_KEY", AZURE_KEY)
        monkeypatch.setenv("OPENAI_COMPAT_BASE_URL", f"{emulator.base_url}/azure/openai/v1" if v1 else
                           f"{emulator.base_url}/azure/openai/deployments/{name}/images/edits?api-version={api_version}")

    return configure


def edit(at, prompt="a red balloon", images=None, with_mask=True):
    at.file_uploader(key="edit_images").set_value(images or ("photo.png", photo(), "image/png")).run()
    if with_mask:
        at.file_uploader(key="edit_mask_upload").set_value(("mask.png", hole_mask(), "image/png"))
    at.text_area(key="edit_prompt").set_value(prompt).run()
    at.button(key="edit_send").click().run()
    assert not at.exception, at.exception


def test_a_masked_edit_on_an_azure_deployment_keeps_the_outside_and_records_a_priced_row(azure_deployment,
                                                                                         emulator_calls):
    azure_deployment()
    at = open_edit_page()
    chosen = at.selectbox(key="edit_model")
    assert chosen.value == "gpt-image-1.5" and len(chosen.options) == 1  # the deployment is the one model
    upload = photo()
    edit(at, images=("photo.png", upload, "image/png"))
    assert not at.error, [e.value for e in at.error]
    sent = [c for c in emulator_calls if c["path"].endswith("/images/edits")]
    assert [c["path"] for c in sent] == ["/azure/openai/deployments/gpt-image-1.5/images/edits"]
    assert sent[0]["headers"].get("api-key") == AZURE_KEY and sent[0]["body"]["mask"]
    store, book = ledger()
    row = book.get(at.session_state["edit_row_ids"][0])
    assert (row.status, row.action, row.provider, row.model) == ("ok", "edit", "openai_compat", "gpt-image-1.5")
    assert row.cost_usd and row.cost_usd > 0 and row.mask_ref
    out, original = pixels(store.read(row.output_refs[0])), pixels(upload)
    keep = np.ones((H, W), bool)
    keep[HOLE] = False
    assert out.shape == original.shape and np.array_equal(out[keep], original[keep])
    assert not np.array_equal(out[~keep], original[~keep])


def test_several_reference_pictures_go_to_one_edit_on_the_v1_path(azure_deployment, emulator_calls):
    azure_deployment(v1=True)
    at = open_edit_page()
    at.selectbox(key="edit_model").set_value("gpt-image-2").run()
    edit(at, prompt="the kite from the second picture in the first", with_mask=False,
         images=[("a.png", photo(), "image/png"), ("b.png", hole_mask(), "image/png")])
    assert not at.error, [e.value for e in at.error]
    sent = [c for c in emulator_calls if c["path"].endswith("/images/edits")]
    assert [c["path"] for c in sent] == ["/azure/openai/v1/images/edits"]
    assert len(sent[0]["body"]["image[]"]) == 2 and sent[0]["body"]["model"] == "gpt-image-2"
    _store, book = ledger()
    row = book.get(at.session_state["edit_row_ids"][0])
    assert row.status == "ok" and len(row.input_refs) == 2 and row.cost_usd > 0


@pytest.mark.parametrize("setup, prompt, says", [
    (dict(name="my-image-deployment"), "a red balloon",
     ["no deployment named 'my-image-deployment'", "OPENAI_COMPAT_BASE_URL"]),
    (dict(api_version="2019-01-01"), "a red balloon", ["api-version 2019-01-01", "OPENAI_COMPAT_BASE_URL"]),
    (dict(), "a red balloon [fault:401]", ["Azure OpenAI refused the key", "OPENAI_COMPAT_API_KEY"]),
    (dict(), "a red balloon [fault:blocked]", ["Azure has temporarily blocked", "403 Forbidden"]),
    (dict(), "a red balloon [fault:429]", ["Azure OpenAI's rate limit for this deployment", "Try again in 1 s",
                                           "quota in the Azure portal"]),
])
def test_azures_refusals_on_the_edit_page_name_what_to_change(azure_deployment, setup, prompt, says):
    azure_deployment(**setup)
    at = open_edit_page()
    edit(at, prompt=prompt)
    shown = " ".join(e.value for e in at.error)
    assert all(s in shown for s in says), shown
    assert "OPENAI_API_KEY" not in shown and "platform.openai.com" not in shown
    assert at.text_area(key="edit_prompt").value == prompt  # nothing lost: fix the setting and press Edit again
    _store, book = ledger()
    assert [r.status for r in book.rows()] in (["error"], ["rejected"])


def test_azures_content_filter_on_an_edit_is_said_in_words(azure_deployment):
    azure_deployment()
    at = open_edit_page()
    edit(at, prompt="a red balloon [fault:content_filter]")
    shown = " ".join(e.value for e in at.error)
    assert "content filter refused this request" in shown and "Azure: contentFilter" in shown, shown
