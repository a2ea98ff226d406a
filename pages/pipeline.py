"""Imagination pipeline: imagine → more detail → English → descriptors → style words → image prompt, then pictures."""
from __future__ import annotations

import streamlit as st

from lib import catalog, pipeline
from lib.compare import Target
from lib.errors import InvalidInput
from lib.providers import registry
from lib.providers.base import GENERATE
from lib.ui import jobs, session
from lib.ui.cards import error_box, format_cost, format_tokens, result_card
from lib.ui.people import person_key
from lib.ui.safe_text import chat_markdown, md_literal

PAGE = "pipeline"
CHAIN_JOB, IMAGES_JOB = "pipeline_chain", "pipeline_images"  # one chain and one batch of pictures at a time
LAST_ERROR = "pipe_last_error"
QUALITIES = ["low", "medium", "high"]  # applied to the models that take a quality
LANGUAGES = {"ko": "Korean (the article's own words)", "en": "English"}
EXAMPLE_IDEAS = {"ko": "인간이 화성에 정착한다면 건축물의 모습은", "en": "the buildings of a human settlement on Mars"}
MODEL_STEPS = [s.name for s in pipeline.STEPS if s.uses_model]

st.session_state.setdefault("pipe_language", "ko")
st.session_state.setdefault("pipe_idea", EXAMPLE_IDEAS["ko"])
st.session_state.setdefault("pipe_version", 0)
st.session_state.setdefault("pipe_condense_max", pipeline.DEFAULT_CONDENSE_MAX)
st.session_state.setdefault("pipe_style_words", pipeline.DEFAULT_STYLE_WORDS)
st.session_state.setdefault("pipe_subject", "")


def set_templates(language: str) -> None:
    for name, template in pipeline.default_templates(language).items():
        st.session_state[f"pipe_tpl_{name}_system"] = template.system
        st.session_state[f"pipe_tpl_{name}_user"] = template.user


def change_language() -> None:
    language = st.session_state["pipe_language"]
    set_templates(language)
    if st.session_state.get("pipe_idea", "").strip() in EXAMPLE_IDEAS.values():
        st.session_state["pipe_idea"] = EXAMPLE_IDEAS[language]


if "pipe_tpl_imagine_user" not in st.session_state:
    set_templates(st.session_state["pipe_language"])
# Widget values (and edited outputs) outlive a visit to another page; buttons hold no value to keep.
session.keep(*[k for k in st.session_state if str(k).startswith("pipe_")
               and not str(k).startswith(("pipe_rerun_", "pipe_go", "pipe_make", "pipe_open_"))])


def templates_from_widgets() -> dict[str, pipeline.StepTemplate]:
    return {name: pipeline.StepTemplate(st.session_state.get(f"pipe_tpl_{name}_system", ""),
                                        st.session_state.get(f"pipe_tpl_{name}_user", ""))
            for name in pipeline.STEP_NAMES}


def output_key(index: int) -> str:
    key = f"pipe_out_{st.session_state['pipe_version']}_{index}"
    session.keep(key)  # an edited output is still there after a visit to another page
    return key


def request_run(from_step: int) -> None:
    """Remember what to run: the outputs as the person left them (edits included) feed the steps after them."""
    run = st.session_state.get("pipe_run")
    outputs = [st.session_state.get(output_key(i), s.output) for i, s in enumerate(run.steps)] if run else []
    st.session_state["pipe_request"] = {"from": from_step, "outputs": outputs}


def step_facts(step: pipeline.StepResult) -> str:
    if step.note == "kept":
        return "kept from before"
    if step.turn is None:
        return "no model call"
    row = ledger.get(step.ledger_id) if step.ledger_id else None
    usage = step.turn.usage
    facts = [format_tokens(usage.input_tokens if usage else None, usage.output_tokens if usage else None)]
    if row is not None:
        facts.append(format_cost(row.cost_usd, row.cost_source))
    if step.turn.latency_ms is not None:
        facts.append(f"{step.turn.latency_ms:,.0f} ms")
    return " · ".join(facts)


def show_live_step(slot, index: int, step: pipeline.StepResult | None) -> None:
    """A step's status box while the chain runs: running, finished or failed."""
    title = f"{index + 1}. {pipeline.STEPS[index].title}"
    with slot.container():
        if step is None:
            st.status(title + " …", state="running")
            return
        with st.status(title, state="error" if step.error else "complete", expanded=step.error is not None):
            if step.error:
                error_box(step.error)
            else:
                st.markdown(chat_markdown(step.output))


def start_chain(cfg, request: dict, model: str) -> None:
    """Run the chain from the requested step on the session's worker (one chain at a time); a click meanwhile
    only reruns the page, which goes on showing the steps as they finish."""
    from_step = request["from"]
    previous = st.session_state.get("pipe_run")
    finished: dict[int, pipeline.StepResult] = {}

    def chain(job: jobs.Job) -> pipeline.PipelineRun:
        def on_step(index: int, step: pipeline.StepResult) -> None:
            finished[index] = step
            job.report(dict(finished))  # every step so far: a waiting run may have missed one between looks

        return pipeline.run_pipeline(cfg, idea, on_step=on_step, **options)

    options = dict(
        templates=templates_from_widgets(), model=model, from_step=from_step, previous_outputs=request["outputs"],
        previous_prompts=[s.prompt_sent for s in previous.steps] if previous and from_step else None,
        condense_max=int(st.session_state["pipe_condense_max"]),
        style_words=st.session_state["pipe_style_words"], subject=st.session_state["pipe_subject"],
        group_id=previous.group_id if previous and from_step else None, page=PAGE, person=person_key(),
    )
    idea = st.session_state["pipe_idea"]
    jobs.start(CHAIN_JOB, chain, label="Running the chain…", from_step=from_step, outputs=request["outputs"])


def show_chain_in_flight() -> None:
    """The steps of the chain in flight as they finish; then keep the run (or say why nothing was sent)."""
    waiting = jobs.running(CHAIN_JOB)
    if waiting is None:
        return
    from_step, outputs = waiting.context["from_step"], waiting.context["outputs"]
    slots = [st.empty() for _ in pipeline.STEPS]

    def draw(finished: dict | None) -> None:
        finished = finished or {}
        for i in range(from_step):
            show_live_step(slots[i], i, pipeline.StepResult(pipeline.STEP_NAMES[i], "", outputs[i], note="kept"))
        for i in range(from_step, len(slots)):
            if i in finished:
                show_live_step(slots[i], i, finished[i])
            elif i == from_step or (i - 1 in finished and finished[i - 1].ok):
                show_live_step(slots[i], i, None)
                break

    draw(waiting.progress)
    job = jobs.collect(CHAIN_JOB, on_progress=draw)
    if job.failure is not None:  # e.g. no idea written: nothing was sent
        st.session_state[LAST_ERROR] = job.failure_as_error()
        st.rerun()
    run = job.outcome
    st.session_state["pipe_run"] = run
    st.session_state["pipe_version"] += 1  # fresh output boxes, filled with this run's text
    for i, step in enumerate(run.steps):
        st.session_state[output_key(i)] = step.output
    st.session_state.pop("pipe_image_rows", None)  # pictures of an earlier prompt stay in the ledger, not here
    st.rerun()


def start_pictures(cfgs, final_prompt: str, targets: list, group_id: str) -> None:
    """The final prompt on the picked engines, on the session's worker (one batch at a time)."""
    person = person_key()

    def pictures(job: jobs.Job):
        arrived = []

        def on_result(cell) -> None:
            arrived.append(cell)
            job.report(list(arrived))  # every cell so far: a waiting run may have missed one between looks

        return pipeline.render_images(cfgs, final_prompt, targets, group_id=group_id, person=person,
                                      cancel_event=job.stopping, on_result=on_result)

    jobs.start(IMAGES_JOB, pictures, label="Drawing…", count=len(targets))


def show_pictures_in_flight() -> None:
    """Each engine's picture (or error) as it arrives; then keep the rows."""
    waiting = jobs.running(IMAGES_JOB)
    if waiting is None:
        return
    slots = [column.empty() for column in st.columns(waiting.context["count"])]
    drawn: set[int] = set()

    def show_cells(cells: list | None) -> None:
        for cell in cells or []:
            if cell.target_index in drawn:  # each once: a card's widgets may appear only once a run
                continue
            drawn.add(cell.target_index)
            with slots[cell.target_index].container():
                if cell.row is not None:
                    result_card(cell.row, store, key=f"pipe_live_{cell.row.id}", show_prompt=False)
                elif cell.error is not None:
                    error_box(cell.error)

    show_cells(waiting.progress)
    job = jobs.collect(IMAGES_JOB, on_progress=show_cells)
    if job.failure is not None:
        st.session_state[LAST_ERROR] = job.failure_as_error()
    else:
        st.session_state["pipe_image_rows"] = [c.row.id for c in job.outcome.cells if c.row is not None]
    st.rerun()


# ---------------------------------------------------------------------------- the page

st.title("Imagination pipeline")
st.caption("Ask a model to imagine, add detail, translate to English and boil it down to a few descriptors; add style "
           "words and send the prompt to the image engines you pick. Every step can be edited and re-run.")
cfgs = session.configs()
cfg = pipeline.chat_config(cfgs)
store, ledger = session.open_store_or_stop()
if cfg is None or not cfg.usable:
    st.error(cfg.problem if cfg is not None else "The pipeline needs a chat model, and none is set up.",
             icon=":material/key_off:")
    st.stop()

st.text_area("Your idea", key="pipe_idea", height=80, help="What should the model imagine? Any language.")
models = [m.id for m in catalog.chat_models(cfg)]
left, middle, right = st.columns([2, 2, 1])
model = left.selectbox("Chat model", models, key="pipe_model",
                       format_func=lambda mid: f"{catalog.chat_model(mid).label} ({mid})" if catalog.chat_model(mid) else mid)
middle.radio("Instructions in", list(LANGUAGES), format_func=LANGUAGES.get, key="pipe_language", horizontal=True,
             on_change=change_language)
right.number_input("Descriptors (N)", 1, 12, key="pipe_condense_max",
                   help="Step 4 keeps at most this many comma-separated descriptors.")
subject_col, style_col = st.columns([1, 2])
subject_col.text_input("Subject (optional)", key="pipe_subject", placeholder="e.g. Futuristic mars villages",
                       help="Put first in the image prompt, as the article did.")
style_col.text_input("Style words", key="pipe_style_words")
if model and catalog.retirement_warning(model):
    st.warning(catalog.retirement_warning(model), icon=":material/event_busy:")

with st.expander("Step instructions", icon=":material/edit_note:"):
    st.caption("The defaults are the seed article's own wording. Placeholders in braces are filled in.")
    for info in pipeline.STEPS:
        if info.name == "prompt":
            continue
        st.markdown(f"**{pipeline.STEP_NAMES.index(info.name) + 1}. {info.title}** · {info.placeholders}")
        if info.uses_model:
            st.text_input("System message", key=f"pipe_tpl_{info.name}_system", label_visibility="collapsed")
        st.text_area("Instruction", key=f"pipe_tpl_{info.name}_user", height=68, label_visibility="collapsed")
    st.button("Back to the article's wording", icon=":material/restart_alt:",
              on_click=lambda: set_templates(st.session_state["pipe_language"]))

chain_in_flight = jobs.busy(CHAIN_JOB)
st.button("Run the chain", type="primary", icon=":material/play_arrow:", key="pipe_go", on_click=request_run, args=(0,),
          disabled=not model or chain_in_flight)

request = st.session_state.pop("pipe_request", None)
if request is not None and model and not jobs.busy(CHAIN_JOB):  # a click during a run does not start another
    st.session_state.pop(LAST_ERROR, None)
    start_chain(cfg, request, model)
show_chain_in_flight()
if st.session_state.get(LAST_ERROR) is not None:
    error_box(st.session_state[LAST_ERROR])

run: pipeline.PipelineRun | None = st.session_state.get("pipe_run")
if run is not None:
    for i, step in enumerate(run.steps):
        info = pipeline.STEPS[i]
        failed = step.error is not None
        last = i == len(run.steps) - 1
        with st.status(f"{i + 1}. {info.title} · {step_facts(step)}", state="error" if failed else "complete",
                       expanded=failed or last or i >= 3):
            if step.prompt_sent and info.uses_model:
                st.caption(f"Sent: {md_literal(step.prompt_sent[:400])}")
            if failed:
                error_box(step.error)
            else:
                label = "Final image prompt" if last else "Output (edit it, then re-run the step after it)"
                st.text_area(label, key=output_key(i), height=140 if info.uses_model else 80)
            if step.note and step.note != "kept":
                st.caption(md_literal(step.note))
            st.button("Retry from here" if failed else "Re-run from here", key=f"pipe_rerun_{i}",
                      icon=":material/replay:", on_click=request_run, args=(i,), disabled=chain_in_flight,
                      help="Runs this step and every step after it again; the steps above keep their (edited) text.")

if run is not None and run.final_prompt:
    st.subheader("Make the pictures")
    final_prompt = st.session_state.get(output_key(len(run.steps) - 1), run.final_prompt)
    # Every model of every engine that is set up and makes pictures, as "engine:model".
    offered = {f"{engine.id}:{m.id}": (engine, m) for engine in registry.able(cfgs, GENERATE)
               for m in engine.models(cfgs[engine.id], GENERATE)}
    firsts = list({engine.id: key for key, (engine, _m) in reversed(offered.items())}.values())[::-1]
    if "pipe_engines" not in st.session_state:
        st.session_state["pipe_engines"] = firsts  # each engine's default model, side by side
    st.session_state["pipe_engines"] = [k for k in st.session_state["pipe_engines"] if k in offered]
    picked = st.multiselect("Engines", list(offered), key="pipe_engines",
                            format_func=lambda k: f"{offered[k][0].label} · {offered[k][1].label}")
    st.session_state.setdefault("pipe_quality", "low")
    quality = st.segmented_control("Quality (for the models that take one)", QUALITIES, key="pipe_quality")
    for key in picked:
        engine, model = offered[key]
        if not model.capabilities.english_only:
            continue
        try:
            fitted, _notes = engine.prepare_prompt(model.id, final_prompt)
            limit = getattr(catalog.image_model(model.id), "prompt_max", len(fitted))
            st.caption(f"{md_literal(engine.label)} gets English only, at most {limit} characters "
                       f"({len(fitted)}): {md_literal(fitted)}")
        except InvalidInput as err:
            st.warning(md_literal(err.message), icon=":material/translate:")
    make_col, generate_col, compare_col = st.columns([1, 1, 1])
    for column, title, page_file in ((generate_col, "Open on Generate", "pages/generate.py"),
                                     (compare_col, "Open on Compare", "pages/compare.py")):
        if column.button(title, icon=":material/open_in_new:", key=f"pipe_open_{page_file}", width="stretch",
                         help="Take the final prompt to that page, with all its settings."):
            st.session_state["prompt_for_generate"] = final_prompt
            st.session_state["prompt_for_compare"] = final_prompt
            st.switch_page(page_file)
    pictures_in_flight = jobs.busy(IMAGES_JOB)
    if make_col.button("Generate", type="primary", icon=":material/image:", key="pipe_make",
                       disabled=not picked or pictures_in_flight, width="stretch") and not pictures_in_flight:
        targets = []
        for key in picked:
            engine, model = offered[key]
            settings = engine.default_compare_settings(model.id)
            qualities = next((s.choices for s in engine.settings(model.id, GENERATE) if s.name == "quality"), ())
            if quality in qualities:
                settings["quality"] = quality
            targets.append(Target(engine.target_label(model.id, settings), engine.id, model.id, settings))
        st.session_state.pop(LAST_ERROR, None)
        start_pictures(cfgs, final_prompt, targets, run.group_id)
    show_pictures_in_flight()
    rows = [ledger.get(row_id) for row_id in st.session_state.get("pipe_image_rows", [])]
    rows = [r for r in rows if r is not None]
    if rows:
        for column, row in zip(st.columns(len(rows)), rows):
            with column:
                result_card(row, store, show_prompt=False)

if run is not None:
    group = ledger.rows(group_id=run.group_id)
    priced = [r.cost_usd for r in group if r.cost_usd is not None]
    unpriced = len(group) - len(priced)
    st.caption(f"This run: {len(group)} calls · ${sum(priced):,.4f}" + (f" + {unpriced} unpriced" if unpriced else "")
               + (" · demo, nothing charged" if cfg.backend == "demo" else ""))
