"""The ledger page for a team: a member's table holds their own calls (figures stay the team's); an admin sees all."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import lib.ui.people
from lib.people import Person
from lib.store import open_store, record_call
from lib.types import GeneratedImage, ImageResult

from .test_ledger_page import LIVE_OPENAI, png, select

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
ALICE = Person("header:alice", "alice", None, False)
ADMIN = Person("header:root", "root", None, True)


@pytest.fixture
def two_people(studio_env):
    def made_by(who: Person, prompt: str, colour):
        return record_call("generate", "generate", LIVE_OPENAI, ImageResult(
            "openai", "gpt-image-2", "/v1/images/generations", [GeneratedImage(png(colour))]), prompt=prompt, person=who.key)
    return made_by(ALICE, "alice's lighthouse", (1, 2, 3)), made_by(Person("header:bob", "bob"), "bob's secret", (4, 5, 6))


def ledger_page_as(person: Person, monkeypatch) -> AppTest:
    monkeypatch.setattr(lib.ui.people, "current_person", lambda: person)
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/ledger.py").run()
    assert not at.exception, at.exception
    return at


def test_a_member_sees_only_their_own_calls_and_no_budget_setting(two_people, monkeypatch):
    at = ledger_page_as(ALICE, monkeypatch)
    assert list(at.dataframe[0].value["prompt"]) == ["alice's lighthouse"]
    assert next(m.value for m in at.metric if m.label == "Calls") == "2"  # the team's total
    assert any("1 call(s) of yours" in h.value for h in at.subheader)
    assert not [n for n in at.number_input if n.key == "budget_usd"]


def test_an_admin_sees_everyones_calls_and_the_budget(two_people, monkeypatch):
    at = ledger_page_as(ADMIN, monkeypatch)
    assert set(at.dataframe[0].value["prompt"]) == {"alice's lighthouse", "bob's secret"}
    assert at.number_input(key="budget_usd") is not None


def test_a_member_deletes_their_own_row_from_the_page(two_people, monkeypatch):
    mine, theirs = two_people
    at = ledger_page_as(ALICE, monkeypatch)
    select(at, 0)  # the only row a member is offered: their own
    at.button(key="ledger_delete").click().run()
    at.button(key="ledger_delete_confirm").click().run()
    assert not at.exception, at.exception
    _, ledger = open_store()
    assert ledger.get(mine.id) is None and ledger.get(theirs.id) is not None


def test_the_admin_makes_the_budget_a_hard_limit_on_the_page(two_people, monkeypatch):
    at = ledger_page_as(ADMIN, monkeypatch)
    at.number_input(key="budget_usd").set_value(5.0).run()
    at.checkbox(key="budget_hard").check().run()
    assert not at.exception, at.exception
    _, ledger = open_store()
    assert ledger.get_setting("monthly_budget_usd") == 5.0 and ledger.get_setting("monthly_budget_hard") is True


def test_behind_a_proxy_a_request_without_its_header_gets_nothing_but_a_sentence(studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_TRUSTED_USER_HEADER", "X-Forwarded-User")
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/generate.py").run()
    assert not at.exception, at.exception
    assert any("did not come through it" in e.value for e in at.error)
    assert not [b for b in at.button if b.label == "Generate"]


def test_a_generation_names_the_person_who_made_it(studio_env, monkeypatch):
    from lib import catalog

    catalog.forget_available_models()
    monkeypatch.setattr(lib.ui.people, "current_person", lambda: ALICE)
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/generate.py").run()
    at.text_area(key="gen_prompt").set_value("alice's own lighthouse")
    next(b for b in at.button if b.label == "Generate").click()
    at.run()
    assert not at.exception, at.exception
    [row] = open_store()[1].rows()
    assert row.person == ALICE.key and row.status == "ok"


def test_the_chat_page_lists_only_ones_own_conversations(studio_env, monkeypatch):
    from lib.types import ChatTurn, Usage

    for who, group, words in ((ALICE, "conv-alice", "alice asks"), (Person("header:bob", "bob"), "conv-bob", "bob asks")):
        record_call("chat", "chat", LIVE_OPENAI, ChatTurn("gpt-4o-mini", "a reply", Usage(5, 5)), prompt=words,
                    group_id=group, params={"turn": 0}, person=who.key)
    monkeypatch.setattr(lib.ui.people, "current_person", lambda: ALICE)
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/chat.py").run()
    assert not at.exception, at.exception
    keys = {b.key for b in at.button}
    assert "chat_open_conv-alice" in keys and "chat_open_conv-bob" not in keys


def test_the_table_says_who_made_each_call_and_whose_key_paid(two_people, monkeypatch):
    from dataclasses import replace

    record_call("generate", "generate", replace(LIVE_OPENAI, key_source="sidebar"), ImageResult(
        "openai", "gpt-image-2", "/v1/images/generations", [GeneratedImage(png((7, 8, 9)))]), prompt="on my own key",
        person=ALICE.key)
    at = ledger_page_as(ADMIN, monkeypatch)
    view = at.dataframe[0].value.set_index("prompt")
    assert view.loc["on my own key", "paid_by"] == "own key" and view.loc["bob's secret", "paid_by"] == "team key"
    assert view.loc["on my own key", "person"] == ALICE.key and view.loc["bob's secret", "person"] == "header:bob"


def test_the_admin_sets_budgets_per_person_and_a_member_is_warned_about_their_own(two_people, monkeypatch):
    from lib import budgets
    from lib.store import begin_call

    spent = 1.0  # alice has a call in flight holding a dollar (her other one is unpriced)
    begin_call("generate", "generate", LIVE_OPENAI, prompt="in flight", estimate_usd=spent, person=ALICE.key)
    at = ledger_page_as(ADMIN, monkeypatch)
    at.number_input(key="budget_person_default").set_value(100.0).run()
    at.toggle(key="budget_people_open").set_value(True).run()
    assert set(at.dataframe[-1].value["person"]) == {ALICE.key, "header:bob"}  # this month's spenders
    at.selectbox(key="budget_person_key").set_value(ALICE.key).run()
    at.number_input(key="budget_person_amount").set_value(round(spent / 0.9, 6)).run()
    at.button(key="budget_person_set").click().run()
    assert not at.exception, at.exception
    _, ledger = open_store()
    assert budgets.person_budget(ledger, ALICE.key) == pytest.approx(spent / 0.9, abs=1e-6)
    assert budgets.person_budget(ledger, "header:bob") == 100.0  # the default

    member = ledger_page_as(ALICE, monkeypatch)
    assert not [n for n in member.number_input if n.key in ("budget_usd", "budget_person_default")]
    home = AppTest.from_file(APP, default_timeout=30)  # the entry point warns before every page
    home.run()
    assert any("90% of your own $1.11 budget" in w.value for w in home.warning), [w.value for w in home.warning]
