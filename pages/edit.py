"""Edit: upload a picture, mark what may change (upload a mask or paint one) where the engine takes a mask, or give
reference pictures where it edits by instruction; describe the change."""
from __future__ import annotations

import hashlib

import streamlit as st

from lib import catalog, send
from lib.errors import InvalidInput
from lib.imaging import (
    MASK_CONVENTION,
    InputRules,
    Normalised,
    invert_mask,
    keep_outside_mask,
    normalise_for_edit,
    normalise_mask,
    overlay_mask_preview,
)
from lib.providers import registry
from lib.providers.base import EDIT
from lib.ui import jobs, session
from lib.ui.cards import error_box, result_card
from lib.ui.people import person_key
from lib.ui.engine_form import engine_and_model_or_stop, reuse_into, settings_form
from lib.ui.mask_painter import mask_painter
from lib.ui.safe_text import md_literal

PAGE = "edit"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif"]
PASTE_BACK_NOTE = "Kept every pixel outside the mask exactly as in the original (pasted back after the edit)."
# Session keys: results and the last error live outside widgets so they survive reruns.
ROWS, LAST_ERROR = "edit_row_ids", "edit_last_error"
JOB, UNRECORDED = "edit_call", "edit_unrecorded"  # the call in flight (lib.ui.jobs); a result the ledger could not take
session.keep("edit_prompt", "edit_keep")  # kept when the person visits another page and comes back
st.session_state.setdefault(ROWS, [])


@st.cache_data(max_entries=32, show_spinner="Preparing the image…")
def prepared_image(data: bytes, rules: InputRules, name: str) -> Normalised:
    return normalise_for_edit(data, rules, filename=name)


@st.cache_data(max_entries=32, show_spinner=False)
def prepared_mask(data: bytes, image_size: tuple[int, int], legacy: bool, name: str) -> Normalised:
    return normalise_mask(data, image_size, legacy=legacy, filename=name)


def apply_reuse() -> None:
    """Fill the form from a result card's "reuse these settings"."""
    reuse = st.session_state.get("reuse")
    if not reuse or reuse.get("page") != PAGE:
        return
    st.session_state.pop("reuse")
    params = reuse.get("params") or {}
    st.session_state["edit_prompt"] = reuse.get("prompt") or ""
    engine = registry.get(reuse.get("provider") or "") or registry.engine_of_model(reuse.get("model"))
    if engine is not None and reuse.get("model"):
        st.session_state["edit_engine"], st.session_state["edit_model"] = engine.id, reuse["model"]
        reuse_into("edit", engine, reuse["model"], EDIT, params)
    if "keep_outside_mask" in params:
        st.session_state["edit_keep"] = bool(params["keep_outside_mask"])


st.title("Edit")
cfgs = session.configs()
store, ledger = session.open_store_or_stop()
apply_reuse()

# ---------------------------------------------------------------- engine and model
engine, cfg, chosen = engine_and_model_or_stop("edit", cfgs, EDIT, "edits pictures")
model, caps = chosen.id, chosen.capabilities
spec = catalog.image_model(model)
legacy = bool(spec and spec.legacy)  # the DALL-E contract: square PNGs under 4 MB
rules = spec.input_rules if spec else InputRules()  # the size and formats the model takes (models.toml)
st.caption(f"{md_literal(chosen.label)} {caps.edit_kind()}."
           + (f" Mask convention: {MASK_CONVENTION}." if caps.edit_mask else ""))
if chosen.warning:
    st.warning(chosen.warning, icon=":material/schedule:")
max_images = max(caps.reference_images, 1)

# ---------------------------------------------------------------- images
uploads = st.file_uploader(
    "Image to edit", type=UPLOAD_TYPES, accept_multiple_files=True, key="edit_images",
    help="The mask applies to the first image; further images are references the model may draw from.",
)
if max_images > 1:
    st.caption(f"{model} takes up to {max_images} images.")
images: list[tuple[str, Normalised]] = []
problems: list[str] = []
for upload in uploads or []:
    try:
        images.append((upload.name, prepared_image(upload.getvalue(), rules, upload.name)))
    except InvalidInput as err:
        problems.append(err.message)
for message in problems:
    st.error(md_literal(message), icon=":material/broken_image:")
if len(images) > max_images:
    problems.append(f"{model} takes at most {max_images} image{'s' if max_images > 1 else ''}: remove {len(images) - max_images}.")
    st.error(md_literal(problems[-1]))
if images:
    columns = st.columns(4)
    for i, (name, image) in enumerate(images):
        with columns[i % len(columns)]:
            st.image(image.data, caption=f"{md_literal(name)} · {image.width}×{image.height}", width="stretch")
    for name, image in images:
        for fix in image.fixes:
            st.caption(f":material/build: {md_literal(name)}: {md_literal(fix)}")

# ---------------------------------------------------------------- mask
mask: Normalised | None = None
if images and caps.edit_mask:
    base_name, base = images[0]
    st.subheader("Mask", divider="gray")
    upload_tab, paint_tab = st.tabs(["Upload a mask", "Paint the mask"], key="edit_mask_source", on_change="rerun")
    uploaded_mask = painted_mask = None
    # Both tabs always run, so an uploaded mask and a painting both survive a switch between them.
    with upload_tab:
        mask_file = st.file_uploader("Mask image", type=UPLOAD_TYPES, key="edit_mask_upload",
                                     help="Transparent = edit. Without transparency: black = edit, white = keep.")
        invert = st.toggle("Invert the mask", key="edit_mask_invert")
        if mask_file is not None:
            try:
                uploaded_mask = prepared_mask(mask_file.getvalue(), base.size, legacy, mask_file.name)
            except InvalidInput as err:
                if not paint_tab.open:
                    problems.append(err.message)
                st.error(md_literal(err.message), icon=":material/broken_image:")
            if uploaded_mask is not None and invert:
                flipped = prepared_mask(invert_mask(uploaded_mask.data), base.size, legacy, "inverted mask")
                uploaded_mask = Normalised(flipped.data, base.width, base.height,
                                           [*uploaded_mask.fixes, "Inverted: the edit and keep areas are swapped."],
                                           flipped.warnings, flipped.coverage)
        if uploaded_mask is not None:  # (the painter shows its own preview)
            st.image(overlay_mask_preview(base.data, uploaded_mask.data), width=480,
                     caption=f"Pink = will be edited ({uploaded_mask.coverage:.0%} of {md_literal(base_name)})")
            for fix in uploaded_mask.fixes:
                st.caption(f":material/build: mask: {md_literal(fix)}")
            for warning in uploaded_mask.warnings:
                st.warning(md_literal(warning), icon=":material/warning:")
    with paint_tab:
        painted = mask_painter(base.data, key="edit_paint_" + hashlib.sha1(base.data).hexdigest()[:10])
        if painted is not None:
            painted_mask = prepared_mask(painted, base.size, legacy, "painted mask")
    mask = painted_mask if paint_tab.open else uploaded_mask
    if mask is not None and mask.coverage == 0.0:
        problems.append(mask.warnings[0])
    if mask is None and caps.reference_images == 0:  # it repaints inside a mask and nowhere else (Karlo)
        problems.append(f"{chosen.label} repaints only inside a mask: upload or paint one.")
        st.info(md_literal(problems[-1]), icon=":material/brush:")
    elif mask is None:
        st.caption("No mask: the model may change the whole picture.")

# ---------------------------------------------------------------- settings
prompt = st.text_area("What should change?", key="edit_prompt", height=100,
                      placeholder="e.g. replace the sky with a pink sunset")
settings = settings_form("edit", engine, model, EDIT)
st.session_state.setdefault("edit_keep", True)
keep_outside = caps.edit_mask and st.toggle("Keep everything outside the mask", key="edit_keep", disabled=mask is None,
                         help="GPT image models treat the mask as a hint and may repaint the rest; this pastes the "
                              "original pixels back outside the mask after the edit.")

# ---------------------------------------------------------------- send
blocked = not images or bool(problems) or not cfg.usable
in_flight = jobs.busy(JOB)  # one call at a time: clicks while it runs are ignored, its result still shows
if st.button("Edit image", type="primary", icon=":material/brush:", disabled=blocked or in_flight,
             key="edit_send") and not in_flight:
    inputs = [image.data for _name, image in images]
    sent_mask = mask.data if mask is not None else None
    paste_back = bool(keep_outside and sent_mask is not None)
    fixes = [f"{name}: {fix}" for name, image in images for fix in image.fixes] + [f"mask: {f}" for f in (mask.fixes if mask else [])]
    facts = {"keep_outside_mask": paste_back, "input_fixes": fixes}
    st.session_state[LAST_ERROR] = None
    st.session_state.pop(UNRECORDED, None)

    def paste_outside_back(result) -> None:
        """GPT image models treat the mask as a hint: put the original pixels back outside it."""
        for picture in result.images:
            picture.data = keep_outside_mask(inputs[0], picture.data, sent_mask)  # the edit's format, the input's size
            picture.width, picture.height = images[0][1].width, images[0][1].height
        result.notes.append(PASTE_BACK_NOTE)

    request = send.Request(engine.id, EDIT, model, prompt, settings, images=inputs, mask=sent_mask, page=PAGE,
                           record_params=facts, person=person_key())
    finish = paste_outside_back if paste_back else None
    jobs.start(JOB, lambda job: send.send(cfg, request, after=finish), label=f"Editing with {md_literal(model)}…")

jobs.settle(JOB, drawn_disabled=in_flight, last_error=LAST_ERROR, unrecorded=UNRECORDED,
            on_row=lambda row_id: st.session_state[ROWS].insert(0, row_id))
jobs.show_unrecorded(UNRECORDED)
if st.session_state.get(LAST_ERROR) is not None:
    error_box(st.session_state[LAST_ERROR])
    st.caption("Your prompt, images and mask are still here: change what the message says and press Edit image again.")

# ---------------------------------------------------------------- results
for row_id in st.session_state[ROWS][:6]:
    row = ledger.get(row_id)
    if row is not None and row.status == "ok":
        result_card(row, store)
