"""Variations: new takes on an uploaded or stored picture from any engine that makes them, beside the original."""
from __future__ import annotations

import streamlit as st

from lib import catalog, send
from lib.errors import InvalidInput
from lib.imaging import InputRules, Normalised, normalise_for_edit
from lib.providers import registry
from lib.providers.base import VARIATION
from lib.store import MISSING_MESSAGE, recent_outputs
from lib.ui import jobs, session
from lib.ui.cards import error_box, result_card
from lib.ui.people import person_key
from lib.ui.engine_form import engine_and_model_or_stop, reuse_into, settings_form
from lib.ui.safe_text import md_literal
from lib.ui.widgets import keep_valid

PAGE = "variations"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif"]
FROM_UPLOAD, FROM_STORE = "Upload a picture", "Pick a stored result"
RECENT_LIMIT = 40
# Session keys: the latest run (original sha + ledger row) survives reruns.
LAST_ROW, LAST_ORIGINAL, LAST_ERROR = "var_last_row", "var_last_original", "var_last_error"
JOB, UNRECORDED = "var_call", "var_unrecorded"  # the call in flight (lib.ui.jobs); a result the ledger could not take
session.keep("var_prompt", "var_source")  # kept when the person visits another page and comes back


@st.cache_data(max_entries=32, show_spinner="Preparing the image…")
def prepared_image(data: bytes, rules: InputRules, name: str) -> Normalised:
    return normalise_for_edit(data, rules, filename=name)


def apply_reuse() -> None:
    reuse = st.session_state.get("reuse")
    if not reuse or reuse.get("page") != PAGE:
        return
    st.session_state.pop("reuse")
    if reuse.get("prompt"):
        st.session_state["var_prompt"] = reuse["prompt"]
    engine = registry.get(reuse.get("provider") or "") or registry.engine_of_model(reuse.get("model"))
    if engine is not None and reuse.get("model"):
        st.session_state["var_engine"], st.session_state["var_model"] = engine.id, reuse["model"]
        reuse_into("var", engine, reuse["model"], VARIATION, reuse.get("params") or {})


st.title("Variations")
cfgs = session.configs()
store, ledger = session.open_store_or_stop()
apply_reuse()

# ---------------------------------------------------------------- engine and model
engine, cfg, chosen = engine_and_model_or_stop("var", cfgs, VARIATION, "makes variations")
model = chosen.id
spec = catalog.image_model(model)
rules = spec.input_rules if spec else InputRules()  # the size and formats the model takes (models.toml)
default_prompt = engine.variation_prompt(model)  # None: the endpoint takes no prompt
if chosen.warning:
    st.warning(chosen.warning, icon=":material/schedule:")
st.caption(
    f"{md_literal(model)} uses a variations endpoint that takes no prompt."
    if default_prompt is None
    else f"{md_literal(model)} makes variations by editing the picture with the prompt below."
    if default_prompt else f"{md_literal(model)} makes variations; a few words below may steer them."
)

# ---------------------------------------------------------------- the original
st.session_state.setdefault("var_source", FROM_UPLOAD)
source = st.segmented_control("Start from", [FROM_UPLOAD, FROM_STORE], key="var_source", required=True)
original: Normalised | None = None
original_label = stored_sha = None
if source == FROM_UPLOAD:
    upload = st.file_uploader("Picture", type=UPLOAD_TYPES, key="var_upload")
    if upload is not None:
        original_label = upload.name
        try:
            original = prepared_image(upload.getvalue(), rules, upload.name)
        except InvalidInput as err:
            st.error(md_literal(err.message), icon=":material/broken_image:")
else:
    recent = recent_outputs(ledger, RECENT_LIMIT)
    if not recent:
        st.info("No stored results yet: make something on Generate or Edit first, or upload a picture.")
    else:
        labels = {item["sha"]: item["label"] for item in recent}
        keep_valid("var_stored", list(labels), recent[0]["sha"])
        thumbs = st.columns(8)
        for i, item in enumerate(recent[:8]):
            thumb = store.thumbnail_data_url(item["sha"])
            if thumb:
                thumbs[i].image(thumb, width="stretch")
            else:
                thumbs[i].caption(MISSING_MESSAGE)
        stored_sha = st.selectbox("Stored result", list(labels), key="var_stored", format_func=labels.get)
        original_label = labels[stored_sha]
        try:
            original = prepared_image(store.read(stored_sha), rules, f"stored image {stored_sha[:10]}")
        except (InvalidInput, OSError) as err:
            st.error(md_literal(getattr(err, "message", None)
                                or f"The stored image {stored_sha[:10]} cannot be read ({type(err).__name__})."))
if original is not None:
    st.image(original.data, caption=f"{md_literal(original_label)} · {original.width}×{original.height}", width=320)
    for fix in original.fixes:
        st.caption(f":material/build: {md_literal(fix)}")

# ---------------------------------------------------------------- settings
prompt = None
if default_prompt is not None:
    st.session_state.setdefault("var_prompt", default_prompt)
    prompt = st.text_area("Variation prompt", key="var_prompt", height=90,
                          help="Sent with the picture: say what to keep and what to vary.") or None
if st.session_state.get("var_n") is None:
    st.session_state["var_n"] = 2  # a variation is judged against its siblings
settings = settings_form("var", engine, model, VARIATION, columns=2)

# ---------------------------------------------------------------- send
in_flight = jobs.busy(JOB)  # one call at a time: clicks while it runs are ignored, its result still shows
if st.button("Make variations", type="primary", icon=":material/content_copy:",
             disabled=original is None or not cfg.usable or in_flight, key="var_send") and not in_flight:
    facts = {"source": "upload" if source == FROM_UPLOAD else "store", "source_ref": stored_sha,
             "input_fixes": list(original.fixes)}
    st.session_state[LAST_ERROR] = None
    st.session_state.pop(UNRECORDED, None)
    count = int(settings.get("n") or 1)
    request = send.Request(engine.id, VARIATION, model, prompt, settings, images=[original.data], page=PAGE,
                           record_params=facts, person=person_key())
    jobs.start(JOB, lambda job: send.send(cfg, request),
               label=f"Making {count} variation{'s' if count > 1 else ''} with {md_literal(model)}…")

jobs.settle(JOB, drawn_disabled=in_flight, last_error=LAST_ERROR, unrecorded=UNRECORDED,
            on_row=lambda row_id: st.session_state.__setitem__(LAST_ROW, row_id))
jobs.show_unrecorded(UNRECORDED)

if st.session_state.get(LAST_ERROR) is not None:
    error_box(st.session_state[LAST_ERROR])
    st.caption("Your picture and prompt are still here: change what the message says and try again.")

# ---------------------------------------------------------------- original beside its variations
row = ledger.get(st.session_state[LAST_ROW]) if st.session_state.get(LAST_ROW) else None
if row is not None and row.status == "ok":
    st.subheader("Original and variations", divider="gray")
    before, after = st.columns([1, 2])
    with before:
        source = store.image_source(row.input_refs[0]) if row.input_refs else None  # a path, or a signed S3 URL
        if source:
            st.image(source, caption="Original", width="stretch")
        elif row.input_refs:
            st.caption("The original picture is no longer available.")
    with after:
        result_card(row, store)
