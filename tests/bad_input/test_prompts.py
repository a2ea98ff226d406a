"""Prompts people really type or paste: each gets a clear message or a reported fix, and the page keeps serving."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.prompts import clean_prompt
from lib.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def _page(path: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page(path).run()
    return at


def _generate(at: AppTest, prompt: str) -> AppTest:
    at.text_area(key="gen_prompt").set_value(prompt).run()
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception, at.exception
    return at


def _shown(at: AppTest) -> str:
    return " ".join(e.value for e in at.error) + " " + " ".join(c.value for c in at.caption)


def test_clean_prompt_keeps_layout_and_reports_what_it_removed():
    assert clean_prompt("a cat\n\twith a hat") == ("a cat\n\twith a hat", [])
    cleaned, fixes = clean_prompt("a cat\x00\x07 with\x1b[31m bells")
    assert cleaned == "a cat with[31m bells" and fixes == ["Removed 3 invisible control characters from the prompt."]
    assert clean_prompt("e\u0301") == ("\u00e9", [])  # NFC, silently: nothing a person would call a change


@pytest.mark.parametrize("prompt, message", [
    ("", "Write a prompt first"),
    ("   \n\t ", "Write a prompt first"),
    ("x" * 32_001, "takes at most 32,000. Shorten it by 1."),
])
def test_generate_refuses_with_what_to_change_and_keeps_the_prompt(studio_env, prompt, message):
    at = _generate(_page("pages/generate.py"), prompt)
    assert message in _shown(at)
    assert at.text_area(key="gen_prompt").value == prompt
    # and the page keeps serving: the next, good prompt works
    _generate(at, "a lighthouse at dawn")
    rows = open_store()[1].frame()  # newest first: the good call, then the refusal with its reason
    assert list(rows["status"]) == ["ok", "rejected"] and rows.iloc[0]["prompt"] == "a lighthouse at dawn"
    assert rows.iloc[1]["error_code"] == "invalid_request" and message in rows.iloc[1]["error_message"]


def test_generate_removes_control_characters_and_says_so(studio_env):
    at = _generate(_page("pages/generate.py"), "a cat\x00\x07 with bells")
    assert "Removed 2 invisible control characters" in _shown(at)
    row = open_store()[1].frame().iloc[0]
    assert row["status"] == "ok" and row["n_images"] == 1


@pytest.mark.parametrize("prompt", ["a cat 🐱🚀 in space", "우주를 나는 고양이", "ünïcödé façade, 東京"])
def test_generate_takes_emoji_and_other_scripts_as_they_are(studio_env, prompt):
    at = _generate(_page("pages/generate.py"), prompt)
    row = open_store()[1].frame().iloc[0]
    assert row["status"] == "ok" and row["prompt"] == prompt
    assert "Removed" not in _shown(at)


def test_karlo_asks_for_english_and_offers_a_translation(studio_env):
    at = _page("pages/karlo.py")
    at.text_area(key="karlo_prompt").set_value("눈 속의 여우").run()
    assert any("Karlo reads English only" in w.value for w in at.warning)
    assert at.button(key="karlo_t2i_send").disabled, "a Korean prompt is not sent to Karlo as it is"
    assert any(b.label == "Translate to English" for b in at.button)
    assert at.text_area(key="karlo_prompt").value == "눈 속의 여우"


@pytest.mark.parametrize("prompt, message", [
    ("y" * 257, "prompt is 257 characters; Karlo v2.1 takes at most 256. Shorten it by 1."),
])
def test_karlo_refuses_an_over_long_prompt_and_keeps_it(studio_env, prompt, message):
    at = _page("pages/karlo.py")
    at.text_area(key="karlo_prompt").set_value(prompt).run()
    at.button(key="karlo_t2i_send").click().run()
    assert not at.exception
    assert message in _shown(at)
    assert at.text_area(key="karlo_prompt").value == prompt


def test_karlo_removes_control_characters_and_says_so(studio_env):
    at = _page("pages/karlo.py")
    at.text_area(key="karlo_prompt").set_value("a fox\x00\x07 in snow").run()
    at.button(key="karlo_t2i_send").click().run()
    assert "Removed 2 invisible control characters" in _shown(at)
    assert open_store()[1].frame().iloc[0]["status"] == "ok"
