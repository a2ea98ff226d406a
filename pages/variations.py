"""Variations: new takes on an uploaded or stored picture, shown beside the original."""
from __future__ import annotations

import streamlit as st

from lib import catalog
from lib.errors import InvalidInput, StudioError
from lib.imaging import Normalised, normalise_for_edit
from lib.providers import openai_images
from lib.store import recent_outputs, record_call
from lib.ui import session
from lib.ui.cards import error_box, result_card
from lib.ui.safe_text import md_literal
from lib.ui.widgets import keep_valid

PAGE = "variations"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif"]
FROM_UPLOAD, FROM_STORE = "Upload a picture", "Pick a stored result"
RECENT_LIMIT = 40
# Session keys: the latest run (original sha + ledger row) survives reruns.
LAST_ROW, LAST_ORIGINAL, LAST_ERROR = "var_last_row", "var_last_original", "var_last_error"
for _key in ("var_model", "var_prompt", "var_n", "var_size", "var_source"):
    if _key in st.session_state:  # keep values when the person visits another page and comes back
        st.session_state[_key] = st.session_state[_key]


@st.cache_data(max_entries=32, show_spinner="Preparing the image…")
def prepared_image(data: bytes, legacy: bool, name: str) -> Normalised:
    return normalise_for_edit(data, legacy=legacy, filename=name)


def apply_reuse() -> None:
    reuse = st.session_state.get("reuse")
    if not reuse or reuse.get("page") != PAGE:
        return
    st.session_state.pop("reuse")
    params = reuse.get("params") or {}
    if reuse.get("model"):
        st.session_state["var_model"] = reuse["model"]
    if reuse.get("prompt"):
        st.session_state["var_prompt"] = reuse["prompt"]
    if params.get("n"):
        st.session_state["var_n"] = params["n"]
    if params.get("size"):
        st.session_state["var_size"] = params["size"]


st.title("Variations")
cfg = session.configs()["openai"]
if not cfg.usable:
    st.error(cfg.problem or "OpenAI is not configured.", icon=":material/key_off:")
store, ledger = session.open_store_or_stop()
apply_reuse()

# ---------------------------------------------------------------- model
models = catalog.image_models(cfg, capability="variation")
model_ids = [m.id for m in models]
keep_valid("var_model", model_ids, model_ids[0])
model = st.selectbox("Model", model_ids, key="var_model", format_func=lambda m: catalog.image_model(m).label)
spec = catalog.image_model(model)
legacy_endpoint = spec.can("variation_endpoint")
if warning := catalog.retirement_warning(spec):
    st.warning(warning, icon=":material/schedule:")
st.caption(
    f"{model} uses the legacy /v1/images/variations endpoint (no prompt; square PNG input)."
    if legacy_endpoint
    else f"{model} makes variations by editing the picture with the prompt below."
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
            original = prepared_image(upload.getvalue(), spec.legacy, upload.name)
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
            thumbs[i].image(store.thumbnail_data_url(item["sha"]) or store.path(item["sha"]).as_posix(), width="stretch")
        stored_sha = st.selectbox("Stored result", list(labels), key="var_stored", format_func=labels.get)
        original_label = labels[stored_sha]
        try:
            original = prepared_image(store.read(stored_sha), spec.legacy, f"stored image {stored_sha[:10]}")
        except (InvalidInput, OSError) as err:
            st.error(md_literal(getattr(err, "message", None)
                                or f"The stored image {stored_sha[:10]} cannot be read ({type(err).__name__})."))
if original is not None:
    st.image(original.png_bytes, caption=f"{md_literal(original_label)} · {original.width}×{original.height}", width=320)
    for fix in original.fixes:
        st.caption(f":material/build: {md_literal(fix)}")

# ---------------------------------------------------------------- settings
prompt = openai_images.DEFAULT_VARIATION_PROMPT
if not legacy_endpoint:
    st.session_state.setdefault("var_prompt", openai_images.DEFAULT_VARIATION_PROMPT)
    prompt = st.text_area("Variation prompt", key="var_prompt", height=90,
                          help="Sent with the picture to the edits endpoint: say what to keep and what to vary.")
left, right = st.columns(2)
keep_valid("var_n", list(range(spec.n_min, spec.n_max + 1)), min(2, spec.n_max))
n = left.number_input("Variations", spec.n_min, spec.n_max, key="var_n", step=1)
sizes = list(spec.size_presets or spec.sizes)
keep_valid("var_size", sizes, "auto" if "auto" in sizes else "1024x1024" if "1024x1024" in sizes else sizes[0])
size = right.selectbox("Size", sizes, key="var_size")

# ---------------------------------------------------------------- send
if st.button("Make variations", type="primary", icon=":material/content_copy:",
             disabled=original is None or not cfg.usable, key="var_send"):
    params = {"n": int(n), "size": size, "source": "upload" if source == FROM_UPLOAD else "store",
              "source_ref": stored_sha, "input_fixes": list(original.fixes)}
    st.session_state[LAST_ERROR] = None
    try:
        with st.spinner(f"Making {int(n)} variation{'s' if n > 1 else ''} with {model}…"):
            result = openai_images.variation(cfg, model=model, image=("original.png", original.png_bytes), n=int(n),
                                             size=size, prompt=prompt)
        row = record_call(page=PAGE, action="variation", cfg=cfg, result=result, params=params,
                          prompt=None if legacy_endpoint else prompt, inputs=[original.png_bytes])
    except StudioError as err:
        st.session_state[LAST_ERROR] = err
        row = record_call(page=PAGE, action="variation", cfg=cfg, error=err, params=params, model=model,
                          endpoint=openai_images.VARIATIONS if legacy_endpoint else openai_images.EDITS,
                          prompt=None if legacy_endpoint else prompt, inputs=[original.png_bytes])
    st.session_state[LAST_ROW] = row.id

if st.session_state.get(LAST_ERROR) is not None:
    error_box(st.session_state[LAST_ERROR])
    st.caption("Your picture and prompt are still here: change what the message says and try again.")

# ---------------------------------------------------------------- original beside its variations
row = ledger.get(st.session_state[LAST_ROW]) if st.session_state.get(LAST_ROW) else None
if row is not None and row.status == "ok":
    st.subheader("Original and variations", divider="gray")
    before, after = st.columns([1, 2])
    with before:
        if row.input_refs:
            st.image(store.path(row.input_refs[0]).as_posix(), caption="Original", width="stretch")
    with after:
        result_card(row, store)
