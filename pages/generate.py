"""Generate: a prompt and settings in, pictures out from any engine that makes them — previews while they stream."""
from __future__ import annotations

import streamlit as st

from lib import catalog, send
from lib.providers import registry
from lib.providers.base import GENERATE, Progress
from lib.ui import jobs, session
from lib.ui.cards import error_box, result_card
from lib.ui.people import person_key
from lib.ui.safe_text import md_literal
from lib.ui.engine_form import pick_engine, pick_model, reuse_into, settings_form

PAGE, PREFIX = "generate", "gen"
PROMPT = "gen_prompt"
ROWS, LAST_ERROR = "gen_rows", "gen_last_error"  # this session's results (ledger ids, newest first) and last failure
JOB = "gen_call"  # the call in flight (lib.ui.jobs): one at a time, shown even if it lands after a rerun
UNRECORDED = "gen_unrecorded"  # pictures that came back but could not be written to the ledger, with why

session.keep(PROMPT)  # the engine form keeps its own widgets
st.session_state.setdefault(ROWS, [])


def take_hand_overs() -> None:
    """Other pages hand over a prompt or a whole row's settings: fill the widgets once, then forget it."""
    prompt = st.session_state.pop("prompt_for_generate", None)
    if prompt:
        st.session_state[PROMPT] = prompt
    reuse = st.session_state.get("reuse")
    if not reuse or reuse.get("page") not in (None, PAGE):
        return
    st.session_state.pop("reuse")
    if reuse.get("prompt"):
        st.session_state[PROMPT] = reuse["prompt"]
    engine = registry.get(reuse.get("provider") or "") or registry.engine_of_model(reuse.get("model"))
    if engine is None or not reuse.get("model"):
        return
    st.session_state[f"{PREFIX}_engine"], st.session_state[f"{PREFIX}_model"] = engine.id, reuse["model"]
    params = dict(reuse.get("params") or {})
    if reuse.get("negative_prompt"):
        params.setdefault("negative_prompt", reuse["negative_prompt"])
    reuse_into(PREFIX, engine, reuse["model"], GENERATE, params)


class Previews:
    """Placeholders that show partial images as they stream in, one slot per requested image."""

    def __init__(self, count: int, enabled: bool) -> None:
        self.slots = [slot.empty() for slot in st.columns(min(count, 4))] if enabled else []
        self.slot, self.last_index, self.count = 0, None, count
        self.status = st.empty()

    def show(self, progress: Progress) -> None:
        if progress.text or progress.fraction is not None:
            done = f" ({progress.fraction:.0%})" if progress.fraction is not None else ""
            self.status.caption(f":material/hourglass_top: {md_literal(progress.text or 'Working')}{done}")
        if progress.preview is None or not self.slots:
            return
        index = progress.preview_index or 0
        # A partial index that does not grow means the stream moved on to the next image.
        if self.last_index is not None and index <= self.last_index:
            self.slot = min(self.slot + 1, self.count - 1)
        self.last_index = index
        self.slots[self.slot % len(self.slots)].image(progress.preview, caption=f"Preview {index + 1} · image "
                                                                                f"{self.slot + 1}", width="stretch")

    def clear(self) -> None:
        for slot in self.slots:
            slot.empty()
        self.status.empty()


# ---------------------------------------------------------------------------- the page

st.title("Generate")
st.caption("Describe a picture, pick an engine, a model and settings, and get images with their tokens, cost and timing.")
cfgs = session.configs()
store, ledger = session.open_store_or_stop()
take_hand_overs()

engine = pick_engine(PREFIX, cfgs, GENERATE)
if engine is None:
    problems = " ".join(c.problem for c in cfgs.values() if c.problem)
    st.error(problems or "No engine that makes pictures is set up: add a key in the sidebar.",
             icon=":material/key_off:")
    st.stop()
cfg = cfgs[engine.id]
wanted = st.session_state.get(f"{PREFIX}_model")
offered = [m.id for m in engine.models(cfg, GENERATE)]
if wanted and wanted not in offered:
    st.session_state.pop(f"{PREFIX}_model")
    st.warning(f"{md_literal(wanted)} is not offered here. {catalog.retirement_warning(wanted) or ''}", icon=":material/event_busy:")

prompt = st.text_area("Prompt", key=PROMPT, height=120, placeholder="A lighthouse on a cliff at dusk, oil painting")
model = pick_model(PREFIX, engine, cfg, GENERATE)
if model is None:
    st.error(f"No {engine.label} model that makes pictures is available for this key. Check the key's model access.",
             icon=":material/block:")
    st.stop()
if model.warning:
    st.warning(model.warning, icon=":material/event_busy:")
if model.capabilities.english_only:
    st.caption(f":material/translate: {model.label} reads English prompts only.")

settings = settings_form(PREFIX, engine, model.id, GENERATE)
spec = catalog.image_model(model.id)
if spec is not None and settings.get("size") and catalog.size_is_experimental(spec, settings["size"]):
    st.caption(":material/science: OpenAI calls sizes above 2560x1440 experimental: results may vary.")

in_flight = jobs.busy(JOB)
if st.button("Generate", type="primary", icon=":material/image:", disabled=in_flight) and not in_flight:
    st.session_state.pop(LAST_ERROR, None)
    st.session_state.pop(UNRECORDED, None)
    count = int(settings.get("n") or 1)
    request = send.Request(engine.id, GENERATE, model.id, prompt, settings, page=PAGE, person=person_key())
    jobs.start(JOB, lambda job: send.send(cfg, request, on_progress=job.report),
               label=f"Generating {count} image{'s' if count > 1 else ''} with {model.id}…",
               count=count, previews=bool(settings.get("partial_images")))

if (waiting := jobs.running(JOB)) is not None:
    previews = Previews(waiting.context["count"], waiting.context["previews"])
    try:
        jobs.settle(JOB, drawn_disabled=in_flight, last_error=LAST_ERROR, unrecorded=UNRECORDED,
                    on_row=lambda row_id: st.session_state[ROWS].insert(0, row_id), on_progress=previews.show)
    finally:
        previews.clear()

if st.session_state.get(LAST_ERROR) is not None:
    error_box(st.session_state[LAST_ERROR])
jobs.show_unrecorded(UNRECORDED)

for row_id in st.session_state[ROWS]:
    row = ledger.get(row_id)
    if row is not None and row.status == "ok":  # deleted from the ledger page meanwhile, or an error shown above
        result_card(row, store)
