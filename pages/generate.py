"""Generate: a prompt and settings in, OpenAI images out — previews while they stream, then priced result cards."""
from __future__ import annotations

import streamlit as st

from lib import catalog
from lib.errors import Cancelled, InvalidInput, ProviderDown, StudioError
from lib.providers import openai_images
from lib.store import record_call
from lib.ui import session
from lib.ui.cards import error_box, result_card
from lib.ui.safe_text import md_literal
from lib.ui.widgets import choose

PAGE = "generate"
CUSTOM = "Custom…"
# Widget keys (kept when the person visits another page and comes back).
PROMPT, MODEL, SIZE, CUSTOM_SIZE, QUALITY = "gen_prompt", "gen_model", "gen_size", "gen_custom_size", "gen_quality"
BACKGROUND, FORMAT, COMPRESSION, COUNT = "gen_background", "gen_format", "gen_compression", "gen_n"
MODERATION, PARTIALS = "gen_moderation", "gen_partials"
WIDGETS = (PROMPT, MODEL, SIZE, CUSTOM_SIZE, QUALITY, BACKGROUND, FORMAT, COMPRESSION, COUNT, MODERATION, PARTIALS)
ROWS, LAST_ERROR = "gen_rows", "gen_last_error"  # this session's results (ledger ids, newest first) and last failure

for _key in WIDGETS:
    if _key in st.session_state:
        st.session_state[_key] = st.session_state[_key]
st.session_state.setdefault(ROWS, [])
st.session_state.setdefault(CUSTOM_SIZE, "1536x864")


def take_hand_overs() -> None:
    """Other pages hand over a prompt or a whole row's settings: fill the widgets once, then forget it."""
    prompt = st.session_state.pop("prompt_for_generate", None)
    if prompt:
        st.session_state[PROMPT] = prompt
    reuse = st.session_state.pop("reuse", None)
    if not reuse or reuse.get("page") not in (None, PAGE):
        return
    params = reuse.get("params") or {}
    if reuse.get("prompt"):
        st.session_state[PROMPT] = reuse["prompt"]
    if reuse.get("model"):
        st.session_state[MODEL] = reuse["model"]
    for key, name in ((QUALITY, "quality"), (BACKGROUND, "background"), (FORMAT, "output_format"),
                      (COMPRESSION, "output_compression"), (COUNT, "n"), (MODERATION, "moderation"),
                      (PARTIALS, "partial_images")):
        if params.get(name) is not None:
            st.session_state[key] = params[name]
    if params.get("size"):
        st.session_state[SIZE] = params["size"]  # a size that is not a preset becomes a custom one below
        st.session_state[CUSTOM_SIZE] = params["size"]


def model_label(model_id: str) -> str:
    spec = catalog.image_model(model_id)
    return f"{spec.label} ({model_id})" if spec else model_id


class Previews:
    """Placeholders that show partial images as they stream in, one slot per requested image."""

    def __init__(self, count: int, partials_per_image: int) -> None:
        self.slots = [slot.empty() for slot in st.columns(min(count, 4))] if partials_per_image else []
        self.slot, self.last_index, self.count = 0, None, count

    def show(self, index: int, data: bytes) -> None:
        # A partial index that does not grow means the stream moved on to the next image.
        if self.last_index is not None and index <= self.last_index:
            self.slot = min(self.slot + 1, self.count - 1)
        self.last_index = index
        self.slots[self.slot % len(self.slots)].image(data, caption=f"Preview {index + 1} · image {self.slot + 1}",
                                                      width="stretch")

    def clear(self) -> None:
        for slot in self.slots:
            slot.empty()


# ---------------------------------------------------------------------------- the page

st.title("Generate")
st.caption("Describe a picture, pick a model and settings, and get images with their tokens, cost and timing.")
cfg = session.configs()["openai"]
store, ledger = session.open_store_or_stop()
if not cfg.usable:
    st.error(cfg.problem, icon=":material/key_off:")
    st.stop()

take_hand_overs()
models = catalog.image_models(cfg, capability="generate")
model_ids = [m.id for m in models]
if not model_ids:
    st.error("No image model is available for this key. Check the key's model access.", icon=":material/block:")
    st.stop()
if st.session_state.get(MODEL) and st.session_state[MODEL] not in model_ids:
    wanted = st.session_state.pop(MODEL)
    st.warning(f"{md_literal(wanted)} is not offered here. {catalog.retirement_warning(wanted) or ''}",
               icon=":material/event_busy:")

prompt = st.text_area("Prompt", key=PROMPT, height=120, placeholder="A lighthouse on a cliff at dusk, oil painting")
model_col, size_col, quality_col = st.columns(3)
with model_col:
    model_id = choose("Model", model_ids, MODEL, format_func=model_label)
spec = catalog.image_model(model_id)
warning = catalog.retirement_warning(spec)
if warning:
    st.warning(warning, icon=":material/event_busy:")

with size_col:
    size_options = list(spec.size_presets) + ([CUSTOM] if spec.arbitrary_sizes else [])
    if spec.arbitrary_sizes and st.session_state.get(SIZE) not in size_options and st.session_state.get(SIZE):
        st.session_state[SIZE] = CUSTOM  # a reused custom size
    size_choice = choose("Size", size_options, SIZE)
    size = st.text_input("Custom size (WIDTHxHEIGHT)", key=CUSTOM_SIZE,
                         help="Both sides multiples of 16, aspect between 1:3 and 3:1, at most 3840x2160.") \
        if size_choice == CUSTOM else size_choice
with quality_col:
    quality = choose("Quality", list(spec.qualities), QUALITY)

format_col, compression_col, background_col = st.columns(3)
with format_col:
    output_format = choose("Output format", list(spec.output_formats), FORMAT)
with compression_col:
    compression = None
    if output_format in ("jpeg", "webp"):
        st.session_state.setdefault(COMPRESSION, 100)
        compression = st.slider("Compression (%)", 0, 100, key=COMPRESSION, help="100 keeps the most detail.")
with background_col:
    background = choose("Background", list(spec.backgrounds), BACKGROUND) if spec.backgrounds else None

count_col, moderation_col, partial_col = st.columns(3)
with count_col:
    if not spec.n_min <= st.session_state.get(COUNT, 1) <= spec.n_max:
        st.session_state[COUNT] = min(max(st.session_state.get(COUNT, 1), spec.n_min), spec.n_max)
    n = st.number_input("Number of images", spec.n_min, spec.n_max, key=COUNT, step=1)
with moderation_col:
    moderation = choose("Moderation", list(spec.moderation), MODERATION,
                        help="'low' filters less strictly.") if spec.moderation else None
with partial_col:
    partial_images = 0
    if spec.can("streaming_partials"):
        partial_images = st.slider("Previews while generating", 0, 3, key=PARTIALS,
                                   help="Partial images streamed before the final one (each costs extra output tokens).")

if size and catalog.size_is_experimental(spec, size):
    st.caption(":material/science: OpenAI calls sizes above 2560x1440 experimental: results may vary.")

if st.button("Generate", type="primary", icon=":material/image:"):
    st.session_state.pop(LAST_ERROR, None)
    problems = catalog.check_request(spec, prompt, size, int(n), quality, output_format, background,
                                     output_compression=compression, moderation=moderation,
                                     partial_images=partial_images)
    if problems:  # nothing was sent: say what to change, keep every input as it is, and leave a trace
        for _param, message in problems:
            st.error(md_literal(message), icon=":material/edit:")
        record_call(page=PAGE, action="generate", cfg=cfg, prompt=prompt, model=model_id,
                    endpoint=openai_images.GENERATIONS, params={"size": size, "quality": quality, "n": int(n)},
                    error=InvalidInput(" ".join(m for _p, m in problems), provider="openai", param=problems[0][0],
                                       code="invalid_request"))
    else:
        settings = dict(model=model_id, size=size, quality=quality, background=background, output_format=output_format,
                        output_compression=compression, n=int(n), moderation=moderation, partial_images=partial_images)
        previews = Previews(int(n), partial_images)
        try:
            with st.spinner(f"Generating {int(n)} image{'s' if n > 1 else ''} with {model_id}…"):
                result = openai_images.generate(cfg, prompt=prompt, on_partial=previews.show if partial_images else None,
                                                **settings)
            row = record_call(page=PAGE, action="generate", cfg=cfg, result=result, prompt=prompt)
            st.session_state[ROWS].insert(0, row.id)
        except BaseException as exc:  # every failure gets a message and a ledger row; the inputs stay
            stopped = not isinstance(exc, Exception)  # the person pressed Stop or the page was left mid-call
            if stopped:
                err = Cancelled("Stopped before the images arrived; anything already made was not kept.",
                                provider="openai")
            elif isinstance(exc, StudioError):
                err = exc
            else:
                err = ProviderDown(f"The call failed unexpectedly ({type(exc).__name__}). Your prompt and settings "
                                   "are kept; try again.", provider="openai", code=type(exc).__name__)
            try:
                record_call(page=PAGE, action="generate", cfg=cfg, error=err, prompt=prompt,
                            params={k: v for k, v in settings.items() if v is not None and k != "model"},
                            model=model_id, endpoint=openai_images.GENERATIONS)
            except StudioError as store_err:
                err.message += f" (The ledger could not record it either: {store_err.message})"
            if stopped:
                raise
            st.session_state[LAST_ERROR] = err
        finally:
            previews.clear()

if st.session_state.get(LAST_ERROR) is not None:
    error_box(st.session_state[LAST_ERROR])

for row_id in st.session_state[ROWS]:
    row = ledger.get(row_id)
    if row is not None:  # deleted from the ledger page meanwhile
        result_card(row, store)
