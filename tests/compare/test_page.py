"""The Compare page in demo mode, driven with AppTest: three targets, one hung; votes reach the leaderboard."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from lib.providers import registry
from lib.store import open_store

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 15  # short for a person, long enough for a busy test machine (and the moved-clock run); the hang lasts 60 s


def open_compare() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    assert not at.exception
    return at


def add_hung_target(at: AppTest) -> None:
    at.selectbox(key="cmp_add_engine").set_value("openai")
    at.run()
    at.selectbox(key="cmp_add_model").set_value("gpt-image-2")
    at.run()
    at.selectbox(key="cmp_add_quality").set_value("low")
    at.selectbox(key="cmp_add_fault").set_value("hang")
    next(b for b in at.button if b.label == "Add target").click()
    at.run()


def test_three_targets_one_hung_show_two_results_and_a_timeout_then_votes_move_the_leaderboard(demo_env):
    at = open_compare()
    labels = [t.label for t in at.session_state["cmp_targets"]]
    engines = registry.ids()
    assert [t.provider for t in at.session_state["cmp_targets"]] == engines  # every engine's default model
    assert any(label.startswith("Karlo") for label in labels)
    add_hung_target(at)
    targets = at.session_state["cmp_targets"]
    assert len(targets) == len(engines) + 1 and targets[-1].label.endswith("[hang]")

    at.text_area(key="cmp_prompts").set_value("a lighthouse at dusk")
    at.number_input(key="cmp_timeout").set_value(TIMEOUT_S)
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception

    run = at.session_state["cmp_shown"]["run"]
    assert [c.status for c in run.cells] == ["ok"] * len(engines) + ["error"]
    assert len(at.image) == len(engines)  # one picture from each engine
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "timed out" in errors[0] and f"{TIMEOUT_S} s" in errors[0]
    assert at.text_area(key="cmp_prompts").value == "a lighthouse at dusk"  # the prompt stays for another go

    _, ledger = open_store()
    rows = ledger.rows(group_id=run.group_id)
    assert sorted((r.provider, r.status, r.backend) for r in rows) == sorted(
        [(e, "ok", "demo") for e in engines] + [("openai", "error", "demo")])
    # Only the hung target's request carried the fault.
    assert [c["headers"].get("x-emulator-fault") for c in demo_env if c["path"].startswith("/v1/images")].count("hang") == 1

    assert any("No votes yet" in c.value for c in at.caption)
    at.segmented_control(key=f"cmp_vote_{run.group_id}_0").set_value(labels[1])
    at.run()
    board = at.dataframe[-1].value.set_index("target")
    assert board.loc[labels[1], "win_rate"] == 1.0 and board.loc[labels[1], "votes"] == 1
    assert board.loc[labels[0], "win_rate"] == 0.0
    assert len(ledger.votes_frame()) == 1

    at.segmented_control(key=f"cmp_vote_{run.group_id}_0").set_value("tie")  # changing one's mind replaces the vote
    at.run()
    board = at.dataframe[-1].value.set_index("target")
    assert board.loc[labels[1], "win_rate"] == 0.5 and board.loc[labels[1], "votes"] == 1


def test_a_csv_batch_and_an_empty_prompt(demo_env):
    at = open_compare()
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert any("Write a prompt" in e.value for e in at.error)
    assert "cmp_shown" not in at.session_state

    at.file_uploader(key="cmp_csv").set_value(("batch.csv", b"prompt,notes\na red fox,x\nan owl,y\n", "text/csv"))
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception
    run = at.session_state["cmp_shown"]["run"]
    cells = 2 * len(registry.ids())
    assert run.prompts == ["a red fox", "an owl"] and [c.status for c in run.cells] == ["ok"] * cells
    assert len(at.image) == cells
    assert any(b.label == "Download this comparison (.zip)" for b in at.get("download_button"))


def test_karlo_gets_an_english_translation_and_the_card_says_what_was_sent(demo_env):
    at = open_compare()
    at.text_area(key="cmp_prompts").set_value("모자를 쓴 고양이")
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception
    run = at.session_state["cmp_shown"]["run"]
    by_engine = {c.target.provider: c for c in run.cells}
    openai_cell, karlo_cell = by_engine["openai"], by_engine["karlo"]
    assert all(c.status == "ok" for c in run.cells)
    assert openai_cell.prompt_sent == "모자를 쓴 고양이"
    assert karlo_cell.prompt_sent and karlo_cell.prompt_sent.isascii()
    assert any(c.value == f"Sent in English: {karlo_cell.prompt_sent}" for c in at.caption)
    _, ledger = open_store()
    rows = {r.action: r for r in ledger.rows(group_id=run.group_id)}
    assert set(rows) == {"translate", "generate", "t2i"}  # the translation is a call too, in the same group
    assert rows["t2i"].prompt == karlo_cell.prompt_sent and rows["generate"].prompt == "모자를 쓴 고양이"
    assert ledger.frame(actions="chat").empty  # so the Chat page does not list the run as a past conversation


def test_the_imagination_pipeline_can_write_the_prompts(demo_env):
    at = open_compare()
    at.text_area(key="cmp_prompts").set_value("a cat who runs a bakery")
    at.checkbox(key="cmp_pipeline").check()
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception
    run = at.session_state["cmp_shown"]["run"]
    assert run.prompts != ["a cat who runs a bakery"] and run.prompts[0].strip()
    assert [c.status for c in run.cells] == ["ok"] * len(registry.ids())
    _, ledger = open_store()
    actions = [r.action for r in ledger.rows(group_id=run.group_id)]
    assert actions.count("pipeline-step") >= 4 and {"generate", "t2i"} <= set(actions)


def test_hand_overs_fill_the_prompt_and_reuse_adds_the_rows_target(demo_env):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.session_state["prompt_for_compare"] = "a prompt from the chat page"
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    assert at.text_area(key="cmp_prompts").value == "a prompt from the chat page"
    assert "prompt_for_compare" not in at.session_state

    at.session_state["reuse"] = {"page": "compare", "prompt": "a reused prompt", "model": "karlo-v2.1",
                                 "params": {"width": 640, "height": 640, "samples": 2}}
    at.run()
    assert at.text_area(key="cmp_prompts").value == "a reused prompt"
    added = at.session_state["cmp_targets"][-1]
    assert (added.provider, added.model, added.settings) == ("karlo", "karlo-v2.1", {"size": "640x640", "n": 2})
    assert added.label == "Karlo v2.1 · 640x640 · ×2"
    assert "reuse" not in at.session_state


def test_a_run_whose_rows_another_session_deleted_says_so_instead_of_a_traceback(demo_env):
    at = open_compare()
    at.text_area(key="cmp_prompts").set_value("a fox in the snow")
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception
    _, ledger = open_store()
    ledger.delete(list(ledger.frame()["id"]))  # someone else cleaned the ledger meanwhile
    at.run()
    assert not at.exception, at.exception
    assert any("no longer available" in c.value for c in at.caption), [c.value for c in at.caption]
    vote = at.segmented_control[0]
    vote.set_value(vote.options[0]).run()  # a vote on the deleted run is still taken, without a traceback
    assert not at.exception, at.exception


def test_an_empty_prompt_is_said_in_words_without_the_apps_own_parameter_names(demo_env):
    at = open_compare()
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ['Write a prompt (or upload a CSV with a "prompt" column) first.']
    assert not [c.value for c in at.caption if "parameter" in c.value]  # "parameter prompts" named our own variable
