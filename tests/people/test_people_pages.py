"""Sign-in on the pages, without a browser: the sidebar names the person, a half-made [auth] section is told in
words, and a member who forces a delete of someone else's row through the page deletes nothing."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import lib.ui.people
from lib import people
from lib.people import Person
from lib.store import open_store, record_call
from tests.ledger_page.test_ledger_page import LIVE_OPENAI, png
from lib.types import GeneratedImage, ImageResult

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
ALICE = Person("oidc:https://id.example|alice", "Alice", "alice@example.org", False)
BOB = Person("oidc:https://id.example|bob", "Bob", "bob@example.org", True)


def app_as(person: Person | None, monkeypatch, page: str = "pages/home.py") -> AppTest:
    monkeypatch.setattr(lib.ui.people, "current_person", lambda: person)
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def sidebar_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


def test_a_signed_in_person_is_named_in_the_sidebar_with_a_way_out(studio_env, monkeypatch):
    monkeypatch.delenv(people.HEADER_VAR, raising=False)
    at = app_as(ALICE, monkeypatch)
    assert "Signed in as **Alice · alice@example.org** · member" in sidebar_text(at)
    assert at.button(key="people_sign_out").label == "Sign out"


def test_behind_a_proxy_the_person_is_named_but_signing_out_is_the_proxys(studio_env, monkeypatch):
    monkeypatch.setenv(people.HEADER_VAR, "X-Forwarded-User")
    at = app_as(Person("header:carol", "carol"), monkeypatch)
    assert "Signed in as **carol** · member" in sidebar_text(at)
    assert not [b for b in at.button if b.key == "people_sign_out"]


def test_the_single_local_user_is_not_named(studio_env, monkeypatch):
    monkeypatch.delenv(people.HEADER_VAR, raising=False)
    at = app_as(people.LOCAL, monkeypatch)
    assert "Signed in as" not in sidebar_text(at)


def test_a_half_made_auth_section_is_told_in_words_not_a_traceback(studio_env, monkeypatch):
    monkeypatch.delenv(people.HEADER_VAR, raising=False)
    (studio_env.parent / ".streamlit").mkdir()  # studio_env's working folder: where Streamlit looks for secrets
    (studio_env.parent / ".streamlit" / "secrets.toml").write_text(
        '[auth]\nredirect_uri = "http://127.0.0.1:8501/oauth2callback"\ncookie_secret = "%s"\n' % ("x" * 32))
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/ledger.py").run()  # (AppTest runs the page alone after its first run; this one asks too)
    assert not at.exception, at.exception
    assert not at.dataframe and not at.metric  # nobody gets past the sign-in prompt
    at.button(key="people_sign_in").click().run()
    assert not at.exception, at.exception
    [error] = at.error
    assert "Sign-in is not set up correctly" in error.value and "client_id" in error.value


@pytest.fixture
def two_rows(studio_env):
    def made_by(who: Person, prompt: str, colour):
        return record_call("generate", "generate", LIVE_OPENAI, ImageResult(
            "openai", "gpt-image-2", "/v1/images/generations", [GeneratedImage(png(colour))]), prompt=prompt, person=who.key)
    return made_by(ALICE, "alice's kite", (1, 2, 3)), made_by(BOB, "bob's submarine", (4, 5, 6))


def test_a_member_forcing_the_delete_of_anothers_row_through_the_page_deletes_nothing(two_rows, monkeypatch):
    mine, theirs = two_rows
    at = app_as(ALICE, monkeypatch, "pages/ledger.py")
    at.session_state["ledger_confirm_ids"] = [mine.id, theirs.id]  # what the page never offers her
    at.run()
    at.button(key="ledger_delete_confirm").click().run()
    assert not at.exception, at.exception
    assert any("only your own" in e.value for e in at.error)
    _, ledger = open_store()
    assert ledger.get(mine.id) is not None and ledger.get(theirs.id) is not None
