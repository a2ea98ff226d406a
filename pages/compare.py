"""Compare: one prompt or a batch on several engines at once, side by side as results arrive; vote, rank, export."""
from __future__ import annotations

import random
import time

import streamlit as st

from lib import compare, limits, ratings
from lib.compare import BOTH_BAD, TIE, Cell, CompareRun, Target
from lib.errors import InvalidInput, StudioError
from lib.pipeline import chat_config
from lib.providers import registry
from lib.providers.base import GENERATE
from lib.ui import jobs, session
from lib.ui.cards import error_box, result_card
from lib.ui.people import person_key
from lib.ui.safe_text import md_literal
from lib.ui.engine_form import pick_model, settings_form

PAGE = "compare"
JOB = "compare"  # the session's one comparison in flight (lib.ui.jobs)
# Widget keys (kept when the person visits another page and comes back).
PROMPTS, USE_PIPELINE, TIMEOUT, BLIND = "cmp_prompts", "cmp_pipeline", "cmp_timeout", "cmp_blind"
ADD, ADD_ENGINE, ADD_FAULT = "cmp_add", "cmp_add_engine", "cmp_add_fault"
TARGETS, SHOWN, LAST_ERROR = "cmp_targets", "cmp_shown", "cmp_last_error"
NO_FAULT = "none"
NOT_IN_COMPARE = ("partial_images",)  # a column shows the finished picture; previews would only cost more

session.keep(PROMPTS, USE_PIPELINE, TIMEOUT, BLIND, "cmp_board_groups", "cmp_board_text", ADD_ENGINE, ADD_FAULT)
st.session_state.setdefault(TIMEOUT, int(limits.provider_timeout_s()))


def make_target(engine_id: str, model: str, settings: dict, fault: str | None = None) -> Target:
    """A target from the picker's values; its label names everything that sets it apart."""
    engine = registry.get(engine_id)
    target = Target(engine.target_label(model, settings), engine_id, model, dict(settings))
    if fault:
        target.label += f" · [{fault}]"
        target.extra_headers = {compare.FAULT_HEADER: fault}
    return target


def add_target(target: Target) -> None:
    """Add to the list; the same engine twice gets a numbered label so votes can tell them apart."""
    labels = {t.label for t in st.session_state[TARGETS]}
    base, i = target.label, 2
    while target.label in labels:
        target.label, i = f"{base} ({i})", i + 1
    st.session_state[TARGETS].append(target)


def take_hand_overs() -> None:
    """A prompt handed over by Chat, or a compare row's "reuse these settings": fill in once, then forget it."""
    prompt = st.session_state.pop("prompt_for_compare", None)
    if prompt:
        st.session_state[PROMPTS] = prompt
    reuse = st.session_state.get("reuse")
    if not reuse or reuse.get("page") != PAGE:
        return
    st.session_state.pop("reuse")
    st.session_state[PROMPTS] = reuse.get("prompt") or ""
    model = reuse.get("model") or ""
    engine = registry.get(reuse.get("provider") or "") or registry.engine_of_model(model)
    if engine is not None and model:
        add_target(make_target(engine.id, model, engine.settings_from_params(model, GENERATE, reuse.get("params") or {})))


def default_targets(cfgs) -> list[Target]:
    """The default model of every engine that is set up and makes pictures, side by side."""
    targets = []
    for engine in registry.able(cfgs, GENERATE):
        model = engine.models(cfgs[engine.id], GENERATE)[0].id
        targets.append(make_target(engine.id, model, engine.default_compare_settings(model)))
    return targets


def target_picker(cfgs) -> None:
    """Pick an engine, a model and its settings, then add it; the same model twice with other settings is fine."""
    able = registry.able(cfgs, GENERATE)
    if not able:
        st.warning("No engine that makes pictures is set up: add a key in the sidebar.", icon=":material/key_off:")
        return
    with st.expander("Add a target", icon=":material/add:"):
        ids = [e.id for e in able]
        if st.session_state.get(ADD_ENGINE) not in ids:
            st.session_state[ADD_ENGINE] = ids[0]
        engine = registry.get(st.selectbox("Engine", ids, key=ADD_ENGINE, format_func=registry.label))
        cfg = cfgs[engine.id]
        model = pick_model(ADD, engine, cfg, GENERATE)
        if model is None:
            return
        if model.warning:
            st.warning(model.warning, icon=":material/event_busy:")
        settings = settings_form(ADD, engine, model.id, GENERATE, skip=NOT_IN_COMPARE)
        estimate = engine.estimate_usd(model.id, settings)
        if estimate == 0:
            st.caption("No charge for a picture" + (" (demo)" if cfg.mode == "demo" else ""))
        elif estimate is not None:
            st.caption(f"About ${estimate:,.4f} a prompt" + (" (demo: nothing is charged)" if cfg.mode == "demo" else ""))
        fault = None
        if cfg.mode == "demo":
            fault = st.selectbox("Demo: make this target fail with", [NO_FAULT, *(f for f in session.DEMO_FAULTS.values() if f)],
                                 key=ADD_FAULT, help="Only this target's calls carry the fault; the others run normally.")
            fault = None if fault == NO_FAULT else fault
        if st.button("Add target", icon=":material/add:"):
            add_target(make_target(engine.id, model.id, settings, fault))
            st.rerun()  # the list above was drawn before this click: show the new target now


def estimate(target: Target) -> float | None:
    engine = registry.get(target.provider)
    return engine.estimate_usd(target.model, target.settings) if engine is not None else None


def target_list(prompt_count: int) -> None:
    """The targets, each with what one prompt should cost on it, and the whole run's estimate before it is sent."""
    estimates = []
    for i, target in enumerate(st.session_state[TARGETS]):
        name, cost, remove = st.columns([5, 2, 1], vertical_alignment="center")
        name.markdown(f"**{i + 1}.** {md_literal(target.label)}")
        each = estimate(target)
        estimates.append(each)
        cost.caption("cost unknown until it answers" if each is None
                     else "no charge for a picture" if each == 0 else f"about ${each:,.4f} a prompt")
        if remove.button("Remove", key=f"cmp_remove_{i}", icon=":material/close:"):
            st.session_state[TARGETS].pop(i)
            st.rerun()
    if estimates:
        known = sum(e for e in estimates if e is not None)
        unknown = sum(e is None for e in estimates)
        prompts = max(prompt_count, 1)
        st.caption(f":material/payments: Estimated before running: about ${known * prompts:,.4f} for {prompts} "
                   f"prompt{'s' if prompts > 1 else ''} × {len(estimates)} target{'s' if len(estimates) > 1 else ''}"
                   + (f" (+ {unknown} target{'s' if unknown > 1 else ''} priced only once it answers)" if unknown else "")
                   + ". The ledger records what each call really cost.")


def read_prompts(text: str, upload) -> list[str]:
    """A CSV upload wins over the text area; either may hold many prompts."""
    return compare.parse_prompts(upload.getvalue() if upload is not None else text)


def expand_with_pipeline(cfg, ideas: list[str], group_id: str, person: str, report) -> list[str]:
    """Each idea through the imagination chain; its final prompt is what the engines get (runs on the worker)."""
    from lib.pipeline import run_pipeline

    prompts = []
    for number, idea in enumerate(ideas, 1):
        def on_step(i: int, step, idea=idea, number=number) -> None:
            report(f"Imagining {number} of {len(ideas)} ({idea[:60]}): {i + 1}. {step.name}")

        run = run_pipeline(cfg, idea, model=compare.default_chat_model(), group_id=group_id, page=PAGE,
                           person=person, on_step=on_step)
        failed = next((s for s in run.steps if s.error is not None), None)
        if failed is not None:
            raise failed.error
        prompts.append(run.final_prompt)
    return prompts


def draw_blind_cell(cell: Cell, store, name: str) -> None:
    """A result with nothing that names its engine: the pictures only, until the vote is cast."""
    st.markdown(f"**{name}**")
    if cell.status in ("pending", "running"):
        st.caption("Waiting for an answer…")
    elif cell.row is not None and cell.status == "ok" and cell.row.output_refs:
        for sha in cell.row.output_refs:
            if store.exists(sha):
                st.image(str(store.path(sha)), width="stretch")
    else:
        st.caption("No picture from this one (what went wrong shows after your vote).")


def draw_cell(cell: Cell, store) -> None:
    """One result (or its error) with what it cost and how long it took."""
    st.markdown(f"**{md_literal(cell.target.label)}**")
    if cell.status in ("pending", "running"):
        st.caption("Waiting for an answer…")
    elif cell.row is not None and cell.status == "ok":
        result_card(cell.row, store, key=f"cmp_{cell.row.id}", show_prompt=False)
    elif cell.error is not None:
        error_box(cell.error)
        if cell.latency_ms is not None:
            st.caption(f"after {cell.latency_ms:,.0f} ms")
    else:
        st.caption("Cancelled before it answered.")
    if cell.prompt_sent and cell.prompt_sent != cell.prompt:
        st.caption(f"Sent in English: {md_literal(cell.prompt_sent)}")
    if cell.ledger_problem:
        st.warning(md_literal(cell.ledger_problem), icon=":material/warning:")


def save_vote(ledger, group_id: str, prompt: str, key: str, labels: list[str], names: dict | None = None) -> None:
    """Record the vote; in blind mode the choice is a letter, recorded as the target it stood for."""
    winner = st.session_state.get(key)
    if winner:
        ledger.add_vote(group_id, prompt, (names or {}).get(winner, winner), labels, person=person_key())


def blind_order(run: CompareRun, prompt_index: int) -> list[int]:
    """The columns' shuffled order for one prompt: fixed per run and prompt, so reruns do not move pictures."""
    order = list(range(len(run.targets)))
    random.Random(f"{run.group_id}:{prompt_index}").shuffle(order)
    return order


def letter(position: int) -> str:
    return f"Picture {chr(ord('A') + position)}" if position < 26 else f"Picture {position + 1}"


def draw_grid(run: CompareRun, store, ledger, *, running: bool, blind: bool = False) -> dict:
    """Rows per prompt, a column per target; returns each cell's placeholder so results can fill in as they come.

    Blind: labels are hidden and positions shuffled until that prompt's vote is cast; then the cards show in order.
    """
    slots = {}
    labels = [t.label for t in run.targets]
    for pi, prompt in enumerate(run.prompts):
        st.markdown(f"#### {pi + 1}. {md_literal(prompt)}" if len(run.prompts) > 1 else f"#### {md_literal(prompt)}")
        key = f"cmp_vote_{run.group_id}_{pi}"
        hidden = blind and len(labels) > 1 and not st.session_state.get(f"{key}_cast")
        order = blind_order(run, pi) if hidden else list(range(len(labels)))
        for position, column in enumerate(st.columns(len(labels))):
            ti = order[position]
            with column:
                slots[(pi, ti)] = st.empty()
                with slots[(pi, ti)].container():
                    if hidden:
                        draw_blind_cell(run.cell(pi, ti), store, letter(position))
                    else:
                        draw_cell(run.cell(pi, ti), store)
        if running or len(labels) < 2:
            continue
        if hidden:
            names = {letter(position): labels[ti] for position, ti in enumerate(order)}

            def cast(key=key, prompt=prompt, names=names) -> None:
                save_vote(ledger, run.group_id, prompt, key, labels, names)
                st.session_state[f"{key}_cast"] = names  # reveal this prompt's labels from now on

            st.segmented_control("Which is best?", [*names, TIE, BOTH_BAD], key=key, on_change=cast)
        else:
            cast_names = st.session_state.get(f"{key}_cast")
            if cast_names:
                st.caption("Revealed: " + " · ".join(f"{md_literal(k)} was {md_literal(v)}" for k, v in cast_names.items()))
            else:
                st.segmented_control("Which is best?", [*labels, TIE, BOTH_BAD], key=key, format_func=md_literal,
                                     on_change=save_vote, args=(ledger, run.group_id, prompt, key, labels))
    return slots


def summary(run: CompareRun, wall_s: float | None) -> str:
    counts = {}
    for cell in run.cells:
        counts[cell.status] = counts.get(cell.status, 0) + 1
    cost = sum((c.row.cost_usd or 0) for c in run.cells if c.row is not None and c.row.cost_usd is not None)
    unpriced = sum(1 for c in run.cells if c.row is not None and c.status == "ok" and c.row.cost_usd is None)
    parts = [", ".join(f"{n} {status}" for status, n in sorted(counts.items()))]
    if wall_s is not None:
        parts.append(f"{wall_s:,.1f} s in all")
    parts.append(f"${cost:,.4f}" + (f" + {unpriced} unpriced" if unpriced else ""))
    return " · ".join(parts)


# ---------------------------------------------------------------------------- the page

st.title("Compare")
st.caption("Send the same prompt — or a batch — to several engines at once and see them side by side as they "
           "answer. A slow or failing engine only affects its own column.")
cfgs = session.configs()
store, ledger = session.open_store_or_stop()

if TARGETS not in st.session_state:
    st.session_state[TARGETS] = default_targets(cfgs)
take_hand_overs()

st.text_area("Prompt — or several, one per line", key=PROMPTS, height=110,
             placeholder="A lighthouse on a cliff at dusk, oil painting")
upload = st.file_uploader("…or a CSV with a `prompt` column", type=["csv"], key="cmp_csv")
pipeline_cfg = chat_config(cfgs)  # the imagination pipeline is a chat model's work
pipeline_ok = pipeline_cfg is not None and pipeline_cfg.usable
st.checkbox("Expand each prompt with the imagination pipeline first", key=USE_PIPELINE, disabled=not pipeline_ok,
            help="Each line is an idea: the chat model imagines, details, translates and condenses it into an "
                 "image prompt, and the engines get that.")

st.subheader("Targets")
target_list(len([line for line in (st.session_state.get(PROMPTS) or "").splitlines() if line.strip()]))
target_picker(cfgs)
st.toggle("Blind: hide which engine made which picture, in shuffled order, until you vote", key=BLIND,
          help="As arenas do: you judge the pictures, not the names. The names show once you have voted.")
st.number_input("Give up on a target after (seconds)", 1, 600, key=TIMEOUT,
                help="A target that has not answered by then shows a timeout in its column; the others are not held up.")

def start_run(cfgs, prompts: list[str], *, expand: bool) -> None:
    """Send the comparison on the session's worker: a click meanwhile reruns the page, which goes on drawing it."""
    group_id = compare.new_group_id()
    targets = list(st.session_state[TARGETS])
    timeout_s = float(st.session_state[TIMEOUT])
    person = person_key()
    run = None if expand else compare.plan(prompts, targets, group_id)

    def work(job: jobs.Job):
        planned = job.context["run"]
        if planned is None:  # the chain first; its rows join the comparison's group
            expanded = expand_with_pipeline(pipeline_cfg, prompts, group_id, person, job.report)
            planned = job.context["run"] = compare.plan(expanded, targets, group_id)
        started = time.monotonic()
        compare.execute(cfgs, planned, timeout_s=timeout_s, cancel_event=job.stopping, person=person,
                        on_result=lambda cell: job.report(cell))
        planned.forget_stored_images()  # the store has them; a session need not hold every picture twice
        return planned, time.monotonic() - started

    st.session_state.pop(SHOWN, None)  # the grid below is this run's from now on
    jobs.start(JOB, work, label="Comparing…", run=run, blind=bool(st.session_state.get(BLIND)))


def show_run_in_flight() -> None:
    """The grid of the comparison in flight, each cell as it answers, with Cancel; then keep the run."""
    waiting = jobs.running(JOB)
    if waiting is None:
        return
    st.button("Cancel", icon=":material/stop:", on_click=waiting.stop,
              help="Finished results are kept; the rest are recorded as cancelled.")
    progress, grid = st.empty(), st.empty()
    view: dict = {}

    def draw(news) -> None:
        run: CompareRun | None = waiting.context.get("run")
        if run is None:  # still imagining
            progress.caption(f":material/hourglass_top: {md_literal(news or 'Imagining…')}")
            return
        if "slots" not in view:
            with grid.container():
                view["slots"] = draw_grid(run, store, ledger, running=True, blind=waiting.context["blind"])
            # What the grid drew finished is not drawn again (a card's widgets may appear only once a run).
            view["drawn"] = {c.key for c in run.cells if c.status not in ("pending", "running")}
        for cell in run.cells:
            if cell.key not in view["drawn"] and cell.status not in ("pending", "running"):
                view["drawn"].add(cell.key)
                with view["slots"][cell.key].container():
                    if waiting.context["blind"] and len(run.targets) > 1:  # still no name, in its shuffled place
                        pi, ti = cell.key
                        draw_blind_cell(cell, store, letter(blind_order(run, pi).index(ti)))
                    else:
                        draw_cell(cell, store)
        done = sum(c.status not in ("pending", "running") for c in run.cells)
        progress.caption(f":material/hourglass_top: {done} of {len(run.cells)} answered · "
                         f"{time.monotonic() - waiting.started:,.1f} s")

    draw(waiting.progress)
    job = jobs.collect(JOB, on_progress=draw)
    if job.failure is not None:  # e.g. the chain failed: nothing was sent to the engines, every input stays
        st.session_state[LAST_ERROR] = job.failure_as_error()
    if job.outcome is not None:
        run, wall_s = job.outcome
        st.session_state[SHOWN] = {"run": run, "wall_s": wall_s, "blind": waiting.context["blind"]}
    st.rerun()


in_flight = jobs.busy(JOB)
if st.button("Compare", type="primary", icon=":material/compare:",
             disabled=not st.session_state[TARGETS] or in_flight) and not in_flight:
    st.session_state.pop(LAST_ERROR, None)
    try:
        prompts = read_prompts(st.session_state[PROMPTS], upload)
        if not prompts:
            raise InvalidInput(compare.NO_PROMPTS, param="prompts")
        start_run(cfgs, prompts, expand=bool(st.session_state.get(USE_PIPELINE) and pipeline_ok))
    except StudioError as exc:  # nothing sent to the engines; every input stays where it was
        st.session_state[LAST_ERROR] = exc
show_run_in_flight()

if st.session_state.get(LAST_ERROR) is not None:
    error_box(st.session_state[LAST_ERROR])

shown = st.session_state.get(SHOWN)
if shown is not None:
    run = shown["run"]
    if run.cancelled:
        st.info("Stopped: the finished results are kept, the rest are recorded as cancelled.", icon=":material/stop:")
    st.divider()
    st.caption(summary(run, shown["wall_s"]))
    draw_grid(run, store, ledger, running=False, blind=shown.get("blind", False))
    st.download_button("Download this comparison (.zip)", lambda: compare.export_zip(run, store),
                       file_name=f"comparison-{run.group_id}.zip", mime="application/zip", on_click="ignore",
                       icon=":material/folder_zip:")

st.subheader("Leaderboard")
all_votes = ledger.votes_frame()
if all_votes.empty:
    st.caption("No votes yet: after a comparison, pick the best result for each prompt.")
else:
    groups = ratings.group_labels(all_votes)
    st.session_state["cmp_board_groups"] = [g for g in st.session_state.get("cmp_board_groups", []) if g in groups]
    left, right = st.columns([3, 2])
    chosen = left.multiselect("Comparisons", list(groups), key="cmp_board_groups", format_func=groups.get,
                              placeholder="All comparisons", help="Rate from these runs' votes only.")
    text = right.text_input("Prompts containing", key="cmp_board_text", placeholder="e.g. lighthouse")
    board = ratings.bradley_terry(ratings.select(all_votes, chosen, text))
    if board.empty:
        st.caption("No votes match: widen the filters.")
    else:
        st.caption("Rating: a Bradley–Terry model fitted to every vote (as public arenas rate models), on the Elo "
                   "scale (1000 is average); 95 % interval from 200 bootstrap resamples of the votes (shown from "
                   f"{ratings.MIN_VOTES_FOR_INTERVAL} votes a target). A winner beats each other target; a tie or "
                   "\"both bad\" is half a win each way. Win rate: a win counts 1, a tie ½, \"both bad\" 0. Only "
                   "your latest vote per prompt of a comparison counts.")
        st.dataframe(board, hide_index=True, column_config={
            "target": "Target",
            "rating": st.column_config.NumberColumn("Rating", format="%.0f"),
            "low": st.column_config.NumberColumn("95 % low", format="%.0f"),
            "high": st.column_config.NumberColumn("95 % high", format="%.0f"),
            "votes": st.column_config.NumberColumn("Votes", help="How many judged prompts this figure rests on"),
            "win_rate": st.column_config.ProgressColumn("Win rate", min_value=0.0, max_value=1.0, format="percent"),
        })
