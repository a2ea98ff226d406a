"""Chat: a streamed conversation with an OpenAI model, every turn priced in the ledger, past conversations reopened from it."""
from __future__ import annotations

import uuid
from pathlib import Path

import streamlit as st

from lib import catalog, presets, send
from lib.providers.openai_chat import ENDPOINT, ChatStream
from lib.store import record_call
from lib.ui import jobs, session
from lib.ui.cards import error_box, format_cost, format_tokens
from lib.ui.people import current_person, person_key
from lib.errors import StudioError, redact_known
from lib.ui.safe_text import chat_markdown, md_literal
from lib.ui.saved_prompts import system_prompt_editor

PAGE = "chat"
JOB = "chat"  # the session's one reply in flight (lib.ui.jobs)
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPERATURE = 1.0  # the API's own default: not sent, so models that refuse other values still work

# Session keys: the conversation lives outside widgets so it survives page switches.
MESSAGES, CONVERSATION, SYSTEM = "chat_messages", "chat_conversation_id", "chat_system"
session.keep("chat_model", "chat_temperature", "chat_max_tokens", "chat_preset", SYSTEM)  # across page visits
st.session_state.setdefault(MESSAGES, [])
st.session_state.setdefault(CONVERSATION, uuid.uuid4().hex)
st.session_state.setdefault(SYSTEM, presets.DEFAULT_SYSTEM_PROMPT)
st.session_state.setdefault("chat_temperature", DEFAULT_TEMPERATURE)
st.session_state.setdefault("chat_max_tokens", 0)


def new_conversation() -> None:
    st.session_state[MESSAGES] = []
    st.session_state[CONVERSATION] = uuid.uuid4().hex


def reply_message(row) -> dict:
    """What the page shows under a reply: its text and the ledger facts about it."""
    return {
        "role": "assistant", "content": row.output_text or "", "row_id": row.id, "model": row.model,
        "input_tokens": row.input_tokens, "output_tokens": row.output_tokens, "cost_usd": row.cost_usd,
        "cost_source": row.cost_source, "ttft_ms": row.ttft_ms, "latency_ms": row.latency_ms, "status": row.status,
        "error": row.error_message, "finish_reason": row.usage_detail.get("finish_reason"),
    }


def reopen(group_id: str) -> None:
    """Load a past conversation from its ledger rows (a regenerated reply replaces the earlier one)."""
    turns: dict[int, object] = {}
    me = person_key()
    for row in ledger.rows(group_id=group_id):
        if row.action == "chat" and row.person == me:  # a conversation is its person's alone
            turns[int(row.params.get("turn", len(turns)))] = row
    messages = []
    for _, row in sorted(turns.items()):
        messages += [{"role": "user", "content": row.prompt or ""}, reply_message(row)]
    st.session_state[MESSAGES] = messages
    st.session_state[CONVERSATION] = group_id
    last = turns[max(turns)] if turns else None
    if last is not None and last.params.get("system"):
        st.session_state[SYSTEM] = last.params["system"]


def send_reply(cfg, history: list[dict], *, model: str, temperature: float | None, max_tokens: int | None) -> None:
    """Start streaming one reply under the history on the session's worker (one reply at a time).

    The worker writes the turn's ledger row and appends the reply to ``history`` when the stream ends, however it
    ends (finished, stopped, broken off, timed out): a click or a page switch meanwhile only reruns the page.
    """
    turn_index = sum(1 for m in history if m["role"] == "user") - 1
    person = person_key()
    system = st.session_state[SYSTEM].strip()
    group_id = st.session_state[CONVERSATION]
    st.session_state[MESSAGES] = history  # the reply is appended to this very list by the worker
    api_messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": m["role"], "content": m["content"]} for m in history if m["content"]
    ]
    stream = ChatStream(cfg, model=model, messages=api_messages, temperature=temperature, max_tokens=max_tokens)

    def work(job: jobs.Job):
        params = {"turn": turn_index, "system": system, "messages_sent": len(api_messages), **stream.params}
        facts = dict(page=PAGE, action="chat", cfg=cfg, prompt=history[-1]["content"], model=model, endpoint=ENDPOINT,
                     group_id=group_id, person=person)
        try:  # pending before it goes out; a hard budget it would pass stops it here, said in the reply's place
            call_id = send.begin_chat(messages=api_messages, max_tokens=max_tokens, params=params,
                                      timeout_s=stream.reply_limit_s, **facts)
        except StudioError as refused:
            row = record_call(error=refused, params=params, **facts)
            history.append(reply_message(row))
            return row
        job.on_stop = stream.stop  # Stop breaks off the stream in flight; the text so far is kept
        text = ""
        try:
            for chunk in stream:
                text += chunk
                job.report(redact_known(text, [cfg.key or ""]))  # shown redacted, as it is stored
        finally:
            if not stream.done:
                stream.stop()
            row = record_call(result=stream.turn, error=stream.error, params=params, call_id=call_id, **facts)
            history.append(reply_message(row))
        return row

    jobs.start(JOB, work, label="Writing…")


def keep_outcome(job: jobs.Job | None) -> None:
    """The reply is already in the conversation (the worker put it there); only a failure to record it is left."""
    if job is not None and job.failure is not None:  # record_call itself failed: say so, keep the conversation
        st.session_state["chat_last_error"] = job.failure_as_error()


def take_stopped_reply() -> None:
    """A reply that ended after the last run stopped waiting for it (Streamlit's own Stop ends a run, not the
    call): take it in before anything else, so the next message is not held back by it."""
    job = jobs.running(JOB)
    if job is not None and job.done.is_set():
        keep_outcome(jobs.collect(JOB))


def show_reply_in_flight() -> None:
    """The reply being written, as it arrives; then the page runs again with it in the conversation."""
    waiting = jobs.running(JOB)
    if waiting is None:
        return
    with st.chat_message("assistant"):
        st.button("Stop", key="chat_stop", icon=":material/stop_circle:", on_click=waiting.stop,
                  help="Stops the reply here: the text so far is kept and recorded.")
        shown = st.empty()  # redrawn per chunk, so an image in the reply is never drawn, not even for a moment
        shown.markdown(chat_markdown(waiting.progress or ""))
        keep_outcome(jobs.collect(JOB, on_progress=lambda text: shown.markdown(chat_markdown(text))))
    st.rerun()


def show_reply_facts(message: dict) -> None:
    facts = [format_tokens(message["input_tokens"], message["output_tokens"]),
             format_cost(message["cost_usd"], message["cost_source"])]
    if message.get("ttft_ms") is not None:
        facts.append(f"first token {message['ttft_ms']:,.0f} ms")
    if message.get("latency_ms") is not None:
        facts.append(f"{message['latency_ms']:,.0f} ms total")
    if message.get("model"):
        facts.append(md_literal(message["model"]))
    st.caption(" · ".join(facts))
    if message["status"] == "cancelled":
        st.warning("Stopped before the end: the text above is what arrived.", icon=":material/stop_circle:")
    elif message["status"] != "ok":
        what = "Incomplete reply." if message["content"] else "No reply."
        st.error(f"{what} {md_literal(message['error'] or '')}", icon=":material/error:")
    elif message.get("finish_reason") == "length":
        st.caption(":material/content_cut: Cut off at the max tokens limit.")


def use_as_image_prompt(text: str) -> None:
    st.session_state["prompt_for_generate"] = text
    st.session_state["prompt_for_compare"] = text
    if (ROOT / "pages" / "generate.py").exists():
        st.switch_page("pages/generate.py")
    st.toast("The Generate page is not installed; the prompt waits on the Compare page.")


# ---------------------------------------------------------------------------- the page

st.title("Chat")
cfg = session.configs()["openai"]
store, ledger = session.open_store_or_stop()
if not cfg.usable:
    st.error(cfg.problem, icon=":material/key_off:")
    st.stop()

with st.sidebar:
    st.subheader("Conversations")
    st.button("New conversation", icon=":material/add_comment:", on_click=new_conversation, width="stretch")
    past = ledger.frame(actions="chat", limit=2000, persons=[person_key()])  # one's own conversations only
    if not past.empty:
        grouped = (past.sort_values("created_at").groupby("group_id")
                   .agg(first_prompt=("prompt", "first"), last=("created_at", "max"), turns=("id", "count"))
                   .sort_values("last", ascending=False).head(15))
        for group_id, info in grouped.iterrows():
            title = (info.first_prompt or "(empty)").strip().replace("\n", " ")
            title = title[:38] + ("…" if len(title) > 38 else "")
            current = group_id == st.session_state[CONVERSATION]
            st.button(md_literal(title), key=f"chat_open_{group_id}", on_click=reopen, args=(group_id,), width="stretch",
                      type="primary" if current else "secondary", help=f"{info.last:%Y-%m-%d %H:%M} UTC")

with st.expander("Model and system prompt", icon=":material/tune:"):
    models = catalog.chat_models(cfg)
    model_ids = [m.id for m in models]
    if st.session_state.get("chat_model") not in model_ids:
        st.session_state.pop("chat_model", None)
    left, middle, right = st.columns([2, 1, 1])
    model = left.selectbox("Model", model_ids, key="chat_model",
                           format_func=lambda mid: f"{catalog.chat_model(mid).label} ({mid})" if catalog.chat_model(mid) else mid)
    temperature = middle.slider("Temperature", 0.0, 2.0, step=0.1, key="chat_temperature",
                                help="1.0 is the model's default and is not sent (some models accept no other value).")
    max_tokens = right.number_input("Max tokens", 0, 128_000, step=256, key="chat_max_tokens",
                                    help="0 = no limit beyond the model's own.")

    system_prompt_editor(ledger, current_person(), text_key=SYSTEM)  # saved prompts are each person's own

if not model:
    st.error("No chat model is available for this key. Check the key's model access.", icon=":material/block:")
    st.stop()
retiring = catalog.retirement_warning(model)
if retiring:  # outside the (usually closed) settings, where a person will see it
    st.warning(retiring, icon=":material/event_busy:")
send_temperature = None if temperature == DEFAULT_TEMPERATURE else float(temperature)
send_max_tokens = int(max_tokens) or None

take_stopped_reply()
messages: list[dict] = st.session_state[MESSAGES]
in_flight = jobs.busy(JOB)
last_reply = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
# A click on Regenerate while a reply is still being written only reruns the page: one reply at a time.
regenerating = st.session_state.pop("chat_regenerating", False) and last_reply is not None and not in_flight
shown = messages[:last_reply] if regenerating else messages  # a reply being regenerated is replaced, not repeated
for i, message in enumerate(shown):
    with st.chat_message(message["role"]):
        if not message["content"]:
            st.markdown("_(no text arrived)_")
        else:  # a reply keeps its Markdown but not its images; what the person typed is shown as typed
            st.markdown(chat_markdown(message["content"]) if message["role"] == "assistant" else md_literal(message["content"]))
        if message["role"] != "assistant":
            continue
        show_reply_facts(message)
        use_col, regen_col = st.columns([1, 1])
        if message["content"] and use_col.button("Use as image prompt", key=f"chat_use_{i}", icon=":material/image:"):
            use_as_image_prompt(message["content"])
        if i == last_reply and not in_flight:
            regen_col.button("Regenerate", key="chat_regenerate", icon=":material/refresh:",
                             on_click=lambda: st.session_state.update(chat_regenerating=True))

priced = [m["cost_usd"] for m in shown if m["role"] == "assistant" and m["cost_usd"] is not None]
unpriced = sum(1 for m in shown if m["role"] == "assistant" and m["cost_usd"] is None)
if priced or unpriced:
    tokens = sum((m["input_tokens"] or 0) + (m["output_tokens"] or 0) for m in shown if m["role"] == "assistant")
    extra = f" + {unpriced} unpriced turn{'s' if unpriced != 1 else ''}" if unpriced else ""
    st.caption(f"Conversation total: ${sum(priced):,.4f}{extra} · {tokens:,} tokens"
               + (" · demo, nothing charged" if cfg.backend == "demo" else ""))

if st.session_state.get("chat_last_error") is not None:
    error_box(st.session_state.pop("chat_last_error"))

# Greyed out while a reply is written (one reply at a time); the reply's own Stop button stops it.
prompt = st.chat_input("Ask, imagine, describe…", key="chat_prompt", submit_mode="disable", disabled=in_flight)
if regenerating:
    send_reply(cfg, messages[:last_reply], model=model, temperature=send_temperature, max_tokens=send_max_tokens)
elif prompt and not jobs.busy(JOB):
    history = messages + [{"role": "user", "content": prompt}]
    with st.chat_message("user"):
        st.markdown(md_literal(prompt))
    send_reply(cfg, history, model=model, temperature=send_temperature, max_tokens=send_max_tokens)
show_reply_in_flight()
