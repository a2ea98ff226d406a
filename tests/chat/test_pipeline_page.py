"""The pipeline page in demo mode through AppTest: the chain, pictures on two engines, re-running from an edited step."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import demo
from lib.store import open_store

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


@pytest.fixture
def at(studio_env, monkeypatch):
    # AppTest resets Streamlit's legacy pages/ mode before every run, so lib.ui.session's one-time
    # "leave legacy mode" rerun fires on every AppTest run and swallows chat_input values and clicks.
    # In a real server it fires once per process (tests/chat/test_chat_browser.py covers that path).
    monkeypatch.setattr("lib.ui.session._leave_legacy_pages_mode", lambda: None, raising=False)
    app = AppTest.from_file(APP, default_timeout=60)
    app.switch_page("pages/pipeline.py").run()
    assert not app.exception
    return app


def clear_calls():
    with demo.running().state.lock:
        demo.running().state.calls.clear()


def chat_calls():
    return [c["body"] for c in demo.running().state.calls if c["path"] == "/v1/chat/completions"]


def outputs(at):
    return {ta.key: ta.value for ta in at.text_area if ta.key and ta.key.startswith("pipe_out_")}


def run_chain(at):
    at.button(key="pipe_go").click().run()
    assert not at.exception, at.exception


def test_chain_runs_end_to_end_and_the_pictures_join_its_ledger_group(at):
    clear_calls()
    run_chain(at)

    assert [s.state for s in at.status] == ["complete"] * 6
    assert len(chat_calls()) == 4
    run = at.session_state["pipe_run"]
    final = at.text_area(key="pipe_out_1_5").value
    assert final == run.final_prompt and final.endswith("digital art")
    assert any(c.value.startswith("Karlo gets English only") for c in at.caption)

    at.button(key="pipe_make").click().run()
    assert not at.exception, at.exception
    _, ledger = open_store()
    rows = ledger.rows(group_id=run.group_id)
    assert [r.action for r in rows[:4]] == ["pipeline-step"] * 4
    from lib.providers import registry

    engines = registry.ids()  # each engine's default model by default
    assert sorted(r.provider for r in rows[4:]) == sorted(engines)
    assert all(r.status == "ok" and r.output_refs for r in rows[4:])
    assert {r.prompt for r in rows[4:] if r.provider == "openai"} == {final}
    assert len(at.image) >= len(engines)
    assert any(c.value.startswith(f"This run: {4 + len(engines)} calls") for c in at.caption)


def test_editing_step_3_and_rerunning_from_there_sends_only_steps_3_and_4(at):
    run_chain(at)
    first = at.session_state["pipe_run"]
    before = outputs(at)

    at.text_area(key="pipe_tpl_translate_user").set_value("영어로 번역해주세요. 아주 짧게.")
    at.text_area(key="pipe_out_1_1").set_value("붉은 모래 언덕 위의 유리 돔 마을")  # the person rewrote step 2's reply
    clear_calls()
    at.button(key="pipe_rerun_2").click().run()
    assert not at.exception, at.exception

    sent = chat_calls()
    assert len(sent) == 2
    assert sent[0]["messages"][-2:] == [{"role": "assistant", "content": "붉은 모래 언덕 위의 유리 돔 마을"},
                                        {"role": "user", "content": "영어로 번역해주세요. 아주 짧게."}]
    assert "Condense up to 4" in sent[1]["messages"][-1]["content"]
    after = outputs(at)
    assert after["pipe_out_2_0"] == before["pipe_out_1_0"]
    assert after["pipe_out_2_1"] == "붉은 모래 언덕 위의 유리 돔 마을"
    run = at.session_state["pipe_run"]
    assert run.group_id == first.group_id and run.final_prompt
    _, ledger = open_store()
    assert [r.params["step"] for r in ledger.rows(group_id=run.group_id)] == [
        "imagine", "detail", "translate", "condense", "translate", "condense"]


def test_a_failing_step_stops_the_chain_and_can_be_retried_from_there(at):
    at.text_area(key="pipe_tpl_detail_user").set_value("더 자세히 [fault:moderation_blocked]")
    run_chain(at)

    assert [s.state for s in at.status] == ["complete", "error"]
    assert any("safety system" in e.value for e in at.error)
    assert at.button(key="pipe_rerun_1").label == "Retry from here"
    kept = at.text_area(key="pipe_out_1_0").value
    assert kept

    at.text_area(key="pipe_tpl_detail_user").set_value("위 내용을 바탕으로 더 자세히 묘사해주세요.")
    clear_calls()
    at.button(key="pipe_rerun_1").click().run()
    assert [s.state for s in at.status] == ["complete"] * 6
    assert len(chat_calls()) == 3  # detail, translate, condense
    assert at.text_area(key="pipe_out_2_0").value == kept


def test_the_final_prompt_can_be_taken_to_the_compare_page(at):
    run_chain(at)
    final = at.text_area(key="pipe_out_1_5").value
    at.text_area(key="pipe_out_1_5").set_value(final + ", golden hour").run()
    at.button(key="pipe_open_pages/compare.py").click().run()
    assert not at.exception, at.exception
    assert any(area.value == final + ", golden hour" for area in at.text_area), [a.value for a in at.text_area]
