"""The Chat page in demo mode through AppTest: streamed turns priced in the ledger, history, faults, handing a prompt on."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import catalog
from lib.store import open_store

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


@pytest.fixture
def at(studio_env, monkeypatch):
    # AppTest resets Streamlit's legacy pages/ mode before every run, so lib.ui.session's one-time
    # "leave legacy mode" rerun fires on every AppTest run and swallows chat_input values and clicks.
    # In a real server it fires once per process (tests/chat/test_chat_browser.py covers that path).
    monkeypatch.setattr("lib.ui.session._leave_legacy_pages_mode", lambda: None, raising=False)
    app = AppTest.from_file(APP, default_timeout=30)
    app.switch_page("pages/chat.py").run()  # straight to Chat: one run of the app instead of two
    assert not app.exception
    return app


def send(at, text):
    at.chat_input(key="chat_prompt").set_value(text).run()
    assert not at.exception, at.exception


def chat_rows():
    _, ledger = open_store()
    return [r for r in reversed(ledger.rows()) if r.action == "chat"][::-1]


def transcript(at):
    return [(m.name, m.markdown[0].value) for m in at.chat_message]


def test_multi_turn_conversation_is_priced_per_turn_and_survives_a_page_switch(at):
    send(at, "Imagine a house on Mars")
    send(at, "Describe its outward appearance in more detail")

    rows = chat_rows()
    assert len(rows) == 2
    assert len({r.group_id for r in rows}) == 1 and rows[0].group_id == at.session_state["chat_conversation_id"]
    assert [r.params["turn"] for r in rows] == [0, 1]
    assert all(r.status == "ok" and r.input_tokens and r.output_tokens and r.cost_usd for r in rows)
    assert all(r.ttft_ms is not None and r.ttft_ms <= r.latency_ms for r in rows)
    assert rows[1].input_tokens > rows[0].input_tokens  # the second turn carries the first as history

    shown = transcript(at)
    assert [role for role, _ in shown] == ["user", "assistant", "user", "assistant"]
    assert shown[1][1] == rows[0].output_text.strip() and shown[3][1] == rows[1].output_text.strip()
    captions = [c.value for c in at.caption]
    assert any(f"{rows[0].input_tokens} in · {rows[0].output_tokens} out" in c and "$" in c for c in captions)
    total = sum(r.cost_usd for r in rows)
    assert any(c.startswith(f"Conversation total: ${total:,.4f}") for c in captions)

    at.switch_page("pages/home.py").run()
    at.switch_page("pages/chat.py").run()
    assert transcript(at) == shown


def test_past_conversations_reopen_from_the_ledger(at):
    send(at, "A lighthouse made of glass")
    first_id = at.session_state["chat_conversation_id"]
    first = transcript(at)
    at.button[[b.label for b in at.button].index("New conversation")].click().run()
    assert transcript(at) == []
    send(at, "Something else entirely")
    assert at.session_state["chat_conversation_id"] != first_id

    at.button(key=f"chat_open_{first_id}").click().run()
    assert at.session_state["chat_conversation_id"] == first_id
    assert transcript(at) == first
    send(at, "Now make it night")  # the reopened conversation continues in its own group
    assert {r.group_id for r in chat_rows() if r.prompt != "Something else entirely"} == {first_id}


def test_stream_broken_midway_keeps_the_partial_reply_as_an_error_row(at):
    at.session_state["demo_fault"] = "chat stream breaks"
    send(at, "Imagine a city under the sea")

    row = chat_rows()[-1]
    assert row.status == "error" and row.error_code == "stream_incomplete"
    assert row.output_text and row.input_tokens is None and row.output_tokens is None
    assert row.cost_usd is None and row.cost_source == "unpriced"
    assert transcript(at)[-1] == ("assistant", row.output_text.strip())
    reply = at.chat_message[-1]
    assert any("Incomplete reply" in e.value for e in reply.error)
    assert any("tokens unknown" in c.value and "unpriced" in c.value for c in reply.caption)


def test_a_reply_that_goes_on_past_the_limit_is_cut_with_its_text_kept_and_its_row_deadline_covers_it(at, monkeypatch):
    from lib import limits
    from lib.store.ledger import to_utc

    import time as real_time

    class SlowClock:  # every look at the clock is a second later: the reply passes 4 s after a few pieces
        ticks = 0.0

        def perf_counter(self):
            SlowClock.ticks += 1.0
            return SlowClock.ticks

        def __getattr__(self, name):
            return getattr(real_time, name)

    monkeypatch.setattr(limits, "CHAT_REPLY_MAX_S", 4.0)
    monkeypatch.setattr("lib.providers.openai_chat.time", SlowClock())
    seen = {}
    real_begin = __import__("lib.send", fromlist=["begin_chat"]).begin_chat

    def begin_and_look(**kwargs):
        call_id = real_begin(**kwargs)
        _, ledger = open_store()
        seen["created"], seen["deadline"] = ledger.db.fetchone(
            "SELECT created_at, deadline_at FROM calls WHERE id = ?", (call_id,))
        return call_id

    monkeypatch.setattr("lib.send.begin_chat", begin_and_look)
    send(at, "Imagine a city under the sea")
    row = chat_rows()[-1]
    assert row.status == "error" and row.error_code == "reply_too_long"
    assert row.output_text and len(row.output_text.split()) < 8  # what came before the cut is kept, and only that
    assert transcript(at)[-1] == ("assistant", row.output_text.strip())
    assert any("stopped reading it" in e.value for e in at.chat_message[-1].error)
    span = to_utc(seen["deadline"]) - to_utc(seen["created"])  # the pending row's deadline is the reply's limit
    assert span == timedelta(seconds=4.0 + limits.DEADLINE_GRACE_S + limits.PENDING_SETTLE_MARGIN_S)


def test_regenerate_replaces_the_last_reply_and_keeps_both_rows(at):
    send(at, "Imagine a tree house")
    at.session_state["demo_fault"] = "chat stream breaks"
    send(at, "Taller")  # a broken reply: the reason to regenerate
    at.session_state["demo_fault"] = "none"
    at.button(key="chat_regenerate").click().run()

    rows = chat_rows()
    assert [r.params["turn"] for r in rows] == [0, 1, 1]
    assert [r.status for r in rows] == ["ok", "error", "ok"]
    shown = transcript(at)
    assert len(shown) == 4 and shown[-1][1] == rows[-1].output_text.strip()
    assert not at.chat_message[-1].error


def test_use_as_image_prompt_lands_the_reply_on_generate(at):
    send(at, "Condense a Mars village into image descriptors")
    reply = chat_rows()[-1].output_text
    at.button(key="chat_use_1").click().run()

    assert at.session_state["prompt_for_compare"] == reply
    # The Generate page takes the hand-over into its prompt box.
    assert any(area.value == reply for area in at.text_area), [a.value for a in at.text_area]


def test_a_system_prompt_can_be_saved_as_a_preset(at):
    at.selectbox(key="chat_preset").set_value("Writes prompts for image generation").run()
    assert at.text_area(key="chat_system").value.startswith("You are an assistant who is good at creating prompts")
    at.text_area(key="chat_system").set_value("You design Martian houses.").run()
    at.text_input(key="chat_preset_name").set_value("Mars architect").run()
    at.button[[b.label for b in at.button].index("Save preset")].click().run()

    _, ledger = open_store()
    assert [(p.person, p.name, p.value) for p in ledger.presets("chat.system_prompt")] == [
        ("local", "Mars architect", "You design Martian houses.")]  # the person's own (lib/presets.py)
    assert "Saved: Mars architect" in at.selectbox(key="chat_preset").options
    send(at, "Hello")
    assert chat_rows()[-1].params["system"] == "You design Martian houses."


def test_a_retiring_model_is_flagged_on_the_page(at, monkeypatch, pinned_today):
    # Ten days before the next chat model's shutdown in the catalog: it is still offered, with a warning.
    soon = min((m for m in catalog.load().chats if m.retires and m.retires > pinned_today), key=lambda m: m.retires)
    monkeypatch.setenv("STUDIO_TODAY", (soon.retires - timedelta(days=10)).isoformat())
    at.run()
    at.selectbox(key="chat_model").set_value(soon.id).run()
    assert any(f"{soon.id} retires on {soon.retires.isoformat()} (in 10 days)" in w.value for w in at.warning), \
        [w.value for w in at.warning]
    send(at, "Hello")
    assert chat_rows()[-1].model == soon.id


def test_a_call_that_fails_outright_keeps_the_message_and_writes_an_error_row(at):
    at.session_state["demo_fault"] = "model_not_found"
    send(at, "Imagine a bridge between two moons")

    row = chat_rows()[-1]
    assert row.status == "error" and row.http_status == 404 and row.cost_source == "unpriced"
    assert row.prompt == "Imagine a bridge between two moons"
    assert transcript(at)[0] == ("user", "Imagine a bridge between two moons")
    assert any(e.value.startswith("No reply.") and "not available" in e.value for e in at.chat_message[-1].error)
    # Once the fault is gone, regenerating answers the same message.
    at.session_state["demo_fault"] = "none"
    at.button(key="chat_regenerate").click().run()
    assert chat_rows()[-1].status == "ok" and len(transcript(at)) == 2


def test_saved_prompts_are_each_persons_own_and_a_member_deletes_only_theirs(studio_env, monkeypatch):
    import lib.ui.people
    from lib import presets
    from lib.people import Person

    alice, bob = Person("header:alice", "alice"), Person("header:bob", "bob")
    _, ledger = open_store()
    presets.save(ledger, bob, "Bob's secret style", "Bob's words.")
    monkeypatch.setattr("lib.ui.session._leave_legacy_pages_mode", lambda: None, raising=False)
    monkeypatch.setattr(lib.ui.people, "current_person", lambda: alice)
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/chat.py").run()
    assert not [o for o in at.selectbox(key="chat_preset").options if "Bob" in o]  # not even its name
    at.text_area(key="chat_system").set_value("Alice's words.").run()
    at.text_input(key="chat_preset_name").set_value("Mine").run()
    at.button[[b.label for b in at.button].index("Save preset")].click().run()
    at.selectbox(key="chat_preset").set_value("Saved: Mine").run()
    at.button(key="chat_preset_delete").click().run()
    assert not at.exception, at.exception
    assert "Saved: Mine" not in at.selectbox(key="chat_preset").options
    assert [(p.person, p.name) for p in ledger.presets(presets.CHAT_SYSTEM_PROMPT)] == [(bob.key, "Bob's secret style")]


def test_a_hard_budget_stops_a_live_turn_before_it_is_sent_and_keeps_the_message(live_env, emulator_calls, monkeypatch):
    _, ledger = open_store()
    ledger.set_setting("monthly_budget_usd", 0.000001)  # live money already spent this month: past it at once
    ledger.set_setting("monthly_budget_hard", True)
    from lib import config
    from lib.compare import default_chat_model
    from lib.store import record_call
    from lib.types import ChatTurn, Usage

    model = default_chat_model()
    record_call(page="chat", action="chat", cfg=config.resolve()["openai"], model=model, prompt="earlier",
                result=ChatTurn(model=model, text="hi", usage=Usage(input_tokens=1000, output_tokens=1000)))
    monkeypatch.setattr("lib.ui.session._leave_legacy_pages_mode", lambda: None, raising=False)
    app = AppTest.from_file(APP, default_timeout=30)
    app.switch_page("pages/chat.py").run()
    sent_before = len(emulator_calls)
    send(app, "Imagine a tower of glass")
    assert len(emulator_calls) == sent_before  # nothing went out
    assert transcript(app)[0] == ("user", "Imagine a tower of glass")
    assert any(e.value.startswith("No reply.") and "hard limit" in e.value for e in app.chat_message[-1].error)
    row = chat_rows()[-1]
    assert row.status == "rejected" and row.prompt == "Imagine a tower of glass" and row.cost_usd in (None, 0)
